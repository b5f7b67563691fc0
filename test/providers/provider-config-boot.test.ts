import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateNoteKey } from '../../src/audit/log/signed-note.js';
import { createApiToken } from '../../src/auth/token-admin.js';
import { isStintError } from '../../src/domain/errors.js';
import { runServer } from '../../src/server/start.js';
import { targetEnv } from '../support/harness.js';
import { TEST_POLICY } from '../support/test-policy.js';

/** A resource whose connection cannot be read or parsed stops the boot, and a reload bringing one is refused. */
describe('provider configuration at start and on reload', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-provider-boot-'));
  const policyPath = join(dir, 'stint.yaml');
  const dbUrl = `sqlite:${join(dir, 'stint.db')}`;
  const saved = { ...process.env };
  const missingEnv = TEST_POLICY.replace(
    /(- id: staging-db[\s\S]*?connection: )\{ env: STINT_TEST_DB_URL \}/,
    '$1{ env: STINT_UNSET_STAGING_URL }',
  );

  beforeAll(() => {
    Object.assign(process.env, targetEnv(), {
      STINT_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      STINT_AUDIT_SIGNING_KEY: generateNoteKey('stint-test').skey,
      STINT_LOG_LEVEL: 'silent',
      STINT_GARBLED_URL: 'mysql://stint_admin:pw-do-not-echo@h/db',
    });
    delete process.env.STINT_UNSET_STAGING_URL;
  });
  afterAll(() => {
    process.env = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  const start = () => runServer({ policyPath, databaseUrl: dbUrl, port: 0, dataDir: dir, print: () => {} });

  it('refuses to start: CONFIG_INVALID naming the resource and where it looked, never a value', async () => {
    expect(missingEnv).not.toBe(TEST_POLICY);
    writeFileSync(policyPath, missingEnv);
    const failure = await start().then(
      () => null,
      (e: unknown) => e,
    );
    expect(isStintError(failure) && failure.code).toBe('CONFIG_INVALID');
    expect((failure as Error).message).toContain(
      'resource staging-db: env STINT_UNSET_STAGING_URL is not set',
    );

    writeFileSync(policyPath, missingEnv.replace('STINT_UNSET_STAGING_URL', 'STINT_GARBLED_URL'));
    const garbled = await start().then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(garbled?.message).toContain(
      'resource staging-db: env STINT_GARBLED_URL must be a postgres:// URL',
    );
    expect(garbled?.message).not.toContain('pw-do-not-echo');
  });

  it('a reload whose resources do not resolve is refused; the old policy stays', async () => {
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

      // Valid YAML, and down-db gone: had the reload been taken, the listing would change.
      const withoutDownDb = missingEnv
        .replace(/ {2}- id: down-db[\s\S]*?(?=rules:)/, '')
        .replace('resources: [staging-db, down-db]', 'resources: [staging-db]');
      writeFileSync(policyPath, withoutDownDb);
      process.kill(process.pid, 'SIGHUP');
      await new Promise((r) => setTimeout(r, 100));
      expect(await resources()).toEqual(before);

      writeFileSync(policyPath, withoutDownDb.replace('STINT_UNSET_STAGING_URL', 'STINT_TEST_DB_URL'));
      process.kill(process.pid, 'SIGHUP');
      await new Promise((r) => setTimeout(r, 100));
      expect(await resources()).toEqual(before.filter((id) => id !== 'down-db'));
    } finally {
      await server.close();
    }
  });
});
