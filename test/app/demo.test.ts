import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareDemo } from '../../src/app/demo.js';
import { parseSkey } from '../../src/audit/log/signed-note.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('the demo data folder', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) {
      rmSync(d, { recursive: true, force: true });
      rmSync(`${d}-keys`, { recursive: true, force: true });
    }
  });
  const folder = () => {
    const d = mkdtempSync(join(tmpdir(), 'stint-demo-'));
    dirs.push(d);
    return d;
  };
  const keyName = (dir: string) =>
    parseSkey(readFileSync(join(`${dir}-keys`, 'audit-signing.key'), 'utf8').trim()).name;

  it('lets the quick start approve with a host-made session (STINT_HOST_SESSIONS=full), unless told otherwise', () => {
    const env: NodeJS.ProcessEnv = {};
    prepareDemo(folder(), env);
    expect(env.STINT_HOST_SESSIONS).toBe('full');
    const strict: NodeJS.ProcessEnv = { STINT_HOST_SESSIONS: 'first-factor' };
    prepareDemo(folder(), strict);
    expect(strict.STINT_HOST_SESSIONS).toBe('first-factor');
  });

  it('names the audit signing key (the log origin) after the deployment', () => {
    const dir = folder();
    prepareDemo(dir, {});
    expect(keyName(dir)).toBe('stint-demo/audit');

    const renamed = folder();
    const policy = readFileSync(join(dir, 'stint.yaml'), 'utf8').replace(
      /deployment: stint-demo/,
      'deployment: acme-prod',
    );
    expect(policy).toContain('deployment: acme-prod');
    writeFileSync(join(renamed, 'stint.yaml'), policy);
    prepareDemo(renamed, {});
    expect(keyName(renamed)).toBe('acme-prod/audit');
  });

  it('a policy given elsewhere names the key; an existing key is kept (the origin never changes)', () => {
    const dir = folder();
    const elsewhere = join(folder(), 'policy.yaml');
    const example = readFileSync(new URL('../../examples/stint.yaml', import.meta.url), 'utf8');
    writeFileSync(elsewhere, example.replace(/deployment: stint-demo/, 'deployment: payments-eu'));
    prepareDemo(dir, {}, elsewhere);
    expect(keyName(dir)).toBe('payments-eu/audit');
    writeFileSync(elsewhere, example.replace(/deployment: stint-demo/, 'deployment: other'));
    prepareDemo(dir, {}, elsewhere);
    expect(keyName(dir)).toBe('payments-eu/audit');
  });

  it('keeps its keys out of the data folder: <data dir>-keys, folder 0700, files 0600', () => {
    const dir = folder();
    const env: NodeJS.ProcessEnv = {};
    const { keyDir } = prepareDemo(dir, env);
    expect(keyDir).toBe(`${dir}-keys`);
    expect(existsSync(join(dir, 'audit-signing.key'))).toBe(false);
    expect(existsSync(join(dir, 'encryption.key'))).toBe(false);
    expect(env.STINT_AUDIT_SIGNING_KEY_FILE).toBe(join(keyDir, 'audit-signing.key'));
    expect(env.STINT_ENCRYPTION_KEY_FILE).toBe(join(keyDir, 'encryption.key'));
    expect(mode(keyDir)).toBe(0o700);
    expect(mode(join(keyDir, 'audit-signing.key'))).toBe(0o600);
    expect(mode(join(keyDir, 'encryption.key'))).toBe(0o600);

    const chosen = join(folder(), 'keys');
    expect(prepareDemo(folder(), { STINT_KEY_DIR: chosen }).keyDir).toBe(chosen);
    expect(existsSync(join(chosen, 'audit-signing.key'))).toBe(true);
  });

  it('a data folder that still holds the old keys: refused, saying how to move them; nothing changed', () => {
    const dir = folder();
    writeFileSync(join(dir, 'audit-signing.key'), 'old', { mode: 0o600 });
    writeFileSync(join(dir, 'encryption.key'), 'old', { mode: 0o600 });
    const env: NodeJS.ProcessEnv = {};
    expect(() => prepareDemo(dir, env)).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining(
          `mkdir -m 700 -p ${dir}-keys && mv ${join(dir, 'encryption.key')} ${join(dir, 'audit-signing.key')} ${dir}-keys/`,
        ),
      }),
    );
    expect(existsSync(`${dir}-keys`)).toBe(false);
    expect(env.STINT_AUDIT_SIGNING_KEY_FILE).toBeUndefined();
    // Explicitly allowed, they are used where they are.
    const allowed: NodeJS.ProcessEnv = { STINT_ALLOW_KEYS_IN_DATA_DIR: 'true' };
    prepareDemo(dir, allowed);
    expect(allowed.STINT_AUDIT_SIGNING_KEY_FILE).toBe(join(dir, 'audit-signing.key'));
  });

  it('a key folder in the data folder, or open to others: refused naming STINT_KEY_DIR', () => {
    const dir = folder();
    for (const inside of [dir, join(dir, 'keys')]) {
      expect(() => prepareDemo(dir, { STINT_KEY_DIR: inside })).toThrow(
        expect.objectContaining({
          code: 'CONFIG_INVALID',
          message: expect.stringMatching(/STINT_KEY_DIR \(or --key-dir\): .* inside the data directory/),
        }),
      );
    }
    const open = join(folder(), 'keys');
    mkdirSync(open);
    chmodSync(open, 0o755);
    expect(() => prepareDemo(folder(), { STINT_KEY_DIR: open })).toThrow(
      /STINT_KEY_DIR .*mode 0755.*chmod 700/,
    );
  });
});
