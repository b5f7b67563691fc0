import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateNoteKey } from '../../src/audit/log/signed-note.js';
import { runServer } from '../../src/server/start.js';
import { targetEnv } from '../support/harness.js';
import { TEST_POLICY } from '../support/test-policy.js';

/** The server as an operator starts it: a sign-in setting that would weaken it stops the boot, with a code. */
describe('server start with identity settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-identity-boot-'));
  const policyPath = join(dir, 'stint.yaml');
  const saved = { ...process.env };

  beforeAll(() => {
    writeFileSync(policyPath, TEST_POLICY);
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

  async function bootWith(env: Record<string, string>): Promise<unknown> {
    const before = { ...process.env };
    Object.assign(process.env, env);
    try {
      const server = await runServer({
        policyPath,
        databaseUrl: `sqlite:${join(dir, `${randomBytes(4).toString('hex')}.db`)}`,
        port: 0,
        dataDir: dir,
        print: () => {},
      });
      await server.close();
      return null;
    } catch (e) {
      return e;
    } finally {
      process.env = before;
    }
  }

  const oidc = {
    STINT_OIDC_ISSUER: 'http://127.0.0.1:9',
    STINT_OIDC_CLIENT_ID: 'stint',
    STINT_OIDC_REDIRECT_URI: 'https://stint.example.com/auth/callback',
  };

  it('refuses a plain-http issuer without the development flag', async () => {
    const e = await bootWith(oidc);
    // One shape for every boot refusal; the identity rule it broke is kept as `rule`.
    expect(e).toMatchObject({ code: 'CONFIG_INVALID', details: { rule: 'OIDC_INSECURE_ISSUER' } });
    expect((e as Error).message).toMatch(/STINT_OIDC_ALLOW_INSECURE_ISSUER/);
  });

  it('starts with it (the provider is only contacted at the first sign-in)', async () => {
    expect(await bootWith({ ...oidc, STINT_OIDC_ALLOW_INSECURE_ISSUER: '1' })).toBeNull();
  });

  it('refuses a trusted proxy that is not an address or range', async () => {
    const e = await bootWith({ STINT_TRUSTED_PROXIES: 'proxy.internal' });
    expect(e).toMatchObject({
      code: 'CONFIG_INVALID',
      details: { variable: 'STINT_TRUSTED_PROXIES', rule: 'IDENTITY_CONFIG_INVALID' },
    });
    expect((e as Error).message).toMatch(/STINT_TRUSTED_PROXIES/);
  });
});
