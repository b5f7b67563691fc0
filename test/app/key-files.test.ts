import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/app/config.js';
import { generateNoteKey } from '../../src/audit/log/signed-note.js';

/**
 * The audit signing key is what lets only a Stint server MAC and sign the trail its store holds. A key file
 * readable by others, or kept in the data directory beside the SQLite store (where whoever can write the store
 * can read it), is refused at start with CONFIG_INVALID naming the variable.
 */
describe('key files', () => {
  const root = mkdtempSync(join(tmpdir(), 'stint-key-files-'));
  const dataDir = join(root, 'data');
  const keyDir = join(root, 'keys');
  mkdirSync(dataDir, { mode: 0o700 });
  mkdirSync(keyDir, { mode: 0o700 });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const skey = `${generateNoteKey('stint-test/audit').skey}\n`;
  const keyFile = (path: string, mode: number) => {
    writeFileSync(path, skey, { mode });
    return path;
  };
  const env = (file: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    STINT_POLICY: '/etc/stint/policy.yaml',
    STINT_ENCRYPTION_KEY: 'k',
    STINT_DATA_DIR: dataDir,
    STINT_AUDIT_SIGNING_KEY_FILE: file,
    ...extra,
  });
  const config = (e: NodeJS.ProcessEnv) => () => resolveConfig({}, e);

  it('accepts a 0600 key file outside the data directory', () => {
    expect(resolveConfig({}, env(keyFile(join(keyDir, 'ok.key'), 0o600))).auditSigningKeys).toBe(skey);
  });

  it('refuses a key file readable by group or others', () => {
    for (const mode of [0o644, 0o640, 0o604]) {
      const file = keyFile(join(keyDir, `open-${mode.toString(8)}.key`), mode);
      expect(config(env(file))).toThrow(
        expect.objectContaining({
          code: 'CONFIG_INVALID',
          message: `invalid configuration: STINT_AUDIT_SIGNING_KEY_FILE: ${file} has mode 0${mode.toString(8)}: a key file must be readable by its owner only (chmod 600 ${file})`,
        }),
      );
    }
    const encryption = join(keyDir, 'enc.key');
    writeFileSync(encryption, 'k', { mode: 0o644 });
    expect(
      config({
        ...env(keyFile(join(keyDir, 'ok2.key'), 0o600)),
        STINT_ENCRYPTION_KEY: '',
        STINT_ENCRYPTION_KEY_FILE: encryption,
      }),
    ).toThrow(/STINT_ENCRYPTION_KEY_FILE: .* has mode 0644/);
  });

  it('refuses a key file in the data directory (or linked from it) unless explicitly allowed', () => {
    const beside = keyFile(join(dataDir, 'audit-signing.key'), 0o600);
    expect(config(env(beside))).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        message: expect.stringMatching(
          /^invalid configuration: STINT_AUDIT_SIGNING_KEY_FILE: .* is a key file inside the data directory .*STINT_ALLOW_KEYS_IN_DATA_DIR=true/,
        ),
      }),
    );
    const link = join(keyDir, 'link.key');
    symlinkSync(beside, link);
    expect(config(env(link))).toThrow(/inside the data directory/);
    expect(resolveConfig({}, env(beside, { STINT_ALLOW_KEYS_IN_DATA_DIR: 'true' })).auditSigningKeys).toBe(
      skey,
    );
    expect(config(env(beside, { STINT_ALLOW_KEYS_IN_DATA_DIR: 'yes' }))).toThrow(
      /STINT_ALLOW_KEYS_IN_DATA_DIR: must be true or false/,
    );
  });

  it('a key given by value needs no file', () => {
    const { STINT_AUDIT_SIGNING_KEY_FILE: _, ...rest } = env('');
    expect(resolveConfig({}, { ...rest, STINT_AUDIT_SIGNING_KEY: skey }).auditSigningKeys).toBe(skey);
  });
});
