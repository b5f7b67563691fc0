import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/load-config.js';
import { run } from '../cli/support.js';

const VALID = {
  STINT_POLICY: '/etc/stint/stint.yaml',
  STINT_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
  STINT_AUDIT_SIGNING_KEY: 'PRIVATE+KEY+x+y',
  STINT_DATA_DIR: '/var/lib/stint',
};

describe('break-glass settings and command line', () => {
  it('reads offline records from STINT_BREAKGLASS_RECORD_DIR (absolute), else beside the data', () => {
    expect(loadConfig({}, VALID).breakglass).toEqual({ recordDir: '/var/lib/stint/breakglass-records' });
    expect(loadConfig({}, { ...VALID, STINT_BREAKGLASS_RECORD_DIR: '/mnt/records' }).breakglass).toEqual({
      recordDir: '/mnt/records',
    });
    expect(() => loadConfig({}, { ...VALID, STINT_BREAKGLASS_RECORD_DIR: 'records' })).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        details: { variable: 'STINT_BREAKGLASS_RECORD_DIR' },
      }),
    );
  });

  it('refuses what it cannot run before anything goes on the wire', async () => {
    const fetch = async () => {
      throw new Error('nothing may be sent');
    };
    const bare = await run(['breakglass', 'unseal'], { fetch });
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/give a subcommand \(open, share, status, take\) or --offline/);
    const offline = await run(['breakglass', 'unseal', '--offline', '--reason', 'x'], { fetch });
    expect(offline.code).toBe(2);
    expect(offline.stderr).toMatch(/--offline needs --bundle, --share-file/);
    const duration = await run(
      ['breakglass', 'invoke', 'prod-db', '--role', 'admin', '--reason', 'x', '--for', 'soon'],
      {
        fetch,
      },
    );
    expect(duration.code).toBe(2);
    expect(duration.stderr).toMatch(/--for: "soon" is not a duration/);
    const help = await run(['breakglass', '--help']);
    for (const cmd of [
      'invoke',
      'status',
      'seal',
      'seals',
      'unseal',
      'postmortems',
      'postmortem',
      'drill',
      'drills',
    ]) {
      expect(help.stdout).toMatch(new RegExp(`^ {2}${cmd}\\b`, 'm'));
    }
  });
});
