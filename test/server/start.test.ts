import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateNoteKey } from '../../src/audit/log/signed-note.js';
import { createApiToken } from '../../src/auth/token-admin.js';
import { runServer } from '../../src/server/start.js';
import { targetEnv } from '../support/harness.js';
import { TEST_POLICY } from '../support/test-policy.js';

/** The server as an operator starts it: an invalid policy never half-loads, at start or on reload (SIGHUP). */
describe('server start and policy reload', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-start-'));
  const policyPath = join(dir, 'stint.yaml');
  const dbUrl = `sqlite:${join(dir, 'stint.db')}`;
  const saved = { ...process.env };

  beforeAll(() => {
    Object.assign(process.env, targetEnv(), {
      STINT_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      STINT_AUDIT_SIGNING_KEY: generateNoteKey('stint-test').skey,
      STINT_LOG_LEVEL: 'silent',
    });
  });
  afterAll(() => {
    process.env = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  const start = () => runServer({ policyPath, databaseUrl: dbUrl, port: 0, dataDir: dir, print: () => {} });

  it('refuses to start with a policy that has a typo, naming file, line and field', async () => {
    writeFileSync(policyPath, TEST_POLICY.replace('sensitivity: critical', 'sensitivty: critical'));
    const failure = await start().then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(failure?.message).toMatch(/stint\.yaml:\d+:\d+: resources\[0\]\.sensitivty/);
  });

  it('refuses to start without an encryption key', async () => {
    writeFileSync(policyPath, TEST_POLICY);
    const key = process.env.STINT_ENCRYPTION_KEY;
    delete process.env.STINT_ENCRYPTION_KEY;
    try {
      await expect(start()).rejects.toThrow(/STINT_ENCRYPTION_KEY/);
    } finally {
      process.env.STINT_ENCRYPTION_KEY = key;
    }
  });

  it('refuses a signing key file beside the store or readable by others; starts with one kept apart', async () => {
    writeFileSync(policyPath, TEST_POLICY);
    const skey = process.env.STINT_AUDIT_SIGNING_KEY;
    delete process.env.STINT_AUDIT_SIGNING_KEY;
    const apart = mkdtempSync(join(tmpdir(), 'stint-start-keys-'));
    try {
      // The old demo layout: whoever can write stint.db can read the key that MACs and signs its trail.
      process.env.STINT_AUDIT_SIGNING_KEY_FILE = join(dir, 'audit-signing.key');
      writeFileSync(process.env.STINT_AUDIT_SIGNING_KEY_FILE, `${skey}\n`, { mode: 0o600 });
      await expect(start()).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        message: expect.stringMatching(/STINT_AUDIT_SIGNING_KEY_FILE: .* inside the data directory/),
      });
      process.env.STINT_AUDIT_SIGNING_KEY_FILE = join(apart, 'audit-signing.key');
      writeFileSync(process.env.STINT_AUDIT_SIGNING_KEY_FILE, `${skey}\n`, { mode: 0o644 });
      await expect(start()).rejects.toThrow(/STINT_AUDIT_SIGNING_KEY_FILE: .* has mode 0644/);
      chmodSync(process.env.STINT_AUDIT_SIGNING_KEY_FILE, 0o600);
      await (await start()).close();
    } finally {
      process.env.STINT_AUDIT_SIGNING_KEY = skey;
      delete process.env.STINT_AUDIT_SIGNING_KEY_FILE;
      rmSync(apart, { recursive: true, force: true });
    }
  });

  it('a reload with an invalid policy keeps the old one; a valid reload takes effect', async () => {
    writeFileSync(policyPath, TEST_POLICY);
    const server = await start();
    try {
      const { token } = await createApiToken({ userId: 'alice', name: 't', databaseUrl: dbUrl, policyPath });
      const resources = async () => {
        const res = await fetch(`${server.url}/v1/resources`, {
          headers: { authorization: `Bearer ${token}` },
        });
        return ((await res.json()) as { resources: { id: string }[] }).resources.map((r) => r.id).sort();
      };
      const before = await resources();
      expect(before).toContain('prod-db');

      writeFileSync(policyPath, TEST_POLICY.replace('approval: [manager]', 'aproval: [manager]'));
      process.kill(process.pid, 'SIGHUP');
      await new Promise((r) => setTimeout(r, 100));
      expect(await resources()).toEqual(before);

      const withoutDownDb = TEST_POLICY.replace(/ {2}- id: down-db[\s\S]*?(?=rules:)/, '').replace(
        'resources: [staging-db, down-db]',
        'resources: [staging-db]',
      );
      writeFileSync(policyPath, withoutDownDb);
      process.kill(process.pid, 'SIGHUP');
      await new Promise((r) => setTimeout(r, 100));
      expect(await resources()).toEqual(before.filter((id) => id !== 'down-db'));
    } finally {
      await server.close();
    }
  });

  it('--demo prints a token per user into a new store, and none on the next start', async () => {
    writeFileSync(policyPath, TEST_POLICY);
    const demoDir = mkdtempSync(join(tmpdir(), 'stint-start-demo-'));
    const startDemo = async () => {
      const lines: string[] = [];
      const server = await runServer({
        demo: true,
        policyPath,
        databaseUrl: `sqlite:${join(demoDir, 'data', 'stint.db')}`,
        port: 0,
        dataDir: join(demoDir, 'data'),
        keyDir: join(demoDir, 'keys'),
        print: (line) => lines.push(line),
      });
      await server.close();
      return lines;
    };
    try {
      const first = await startDemo();
      expect(first).toContain(
        'Demo API tokens (shown once; export STINT_TOKEN=<token> to act as that user):',
      );
      expect(first.filter((l) => /^ {2}alice +stint_/.test(l))).toHaveLength(1);
      const second = await startDemo();
      expect(second.some((l) => l.startsWith('Demo API tokens') || l.includes('stint_'))).toBe(false);
      expect(second.some((l) => /^Stint listening on /.test(l))).toBe(true);
      // Then where the portal is, or why there is none.
      expect(second.at(-1)).toMatch(/^(Portal: open |No portal is built here)/);
    } finally {
      rmSync(demoDir, { recursive: true, force: true });
    }
  });

  it('refuses a token for a user the directory does not have', async () => {
    writeFileSync(policyPath, TEST_POLICY);
    await expect(
      createApiToken({ userId: 'nobody', name: 't', databaseUrl: dbUrl, policyPath }),
    ).rejects.toThrow(/not in the directory/);
  });
});
