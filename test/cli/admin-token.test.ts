import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTokenStore } from '../../src/auth/token-store.js';
import { runCli } from '../../src/cli/program.js';
import { createSessionStore } from '../../src/identity/session-store.js';
import { migrate, openDatabase } from '../../src/store/database.js';
import { TEST_POLICY } from '../support/test-policy.js';

/** `stint admin token create|revoke` against a real store file, as an operator on the server host would. */
describe('stint admin token', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-admin-'));
  const db = `sqlite:${join(dir, 'stint.db')}`;
  const policy = join(dir, 'stint.yaml');
  writeFileSync(policy, TEST_POLICY);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function stint(...argv: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await runCli(argv, {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      env: {},
    });
    return { code, stdout, stderr };
  }

  async function check(token: string) {
    const store = openDatabase(db);
    try {
      await migrate(store);
      return await createTokenStore(store.db).check(token, new Date());
    } finally {
      await store.close();
    }
  }

  it('creates a scoped, expiring token, shown once, and revokes it by id', async () => {
    const created = await stint(
      '--json',
      'admin',
      'token',
      'create',
      '--user',
      'erin',
      '--scope',
      'audit:read',
      '--expires',
      '30d',
      '--db',
      db,
      '--policy',
      policy,
    );
    expect(created.code, created.stderr).toBe(0);
    const { id, token } = JSON.parse(created.stdout) as { id: string; token: string };
    const valid = await check(token);
    expect(valid).toMatchObject({ ok: true, userId: 'erin', scopes: ['audit:read'] });

    const revoked = await stint('admin', 'token', 'revoke', id, '--db', db);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`token ${id} of erin revoked`);
    expect((await check(token)).ok).toBe(false);
    // The row says who made and revoked it on which host, for the server to announce (it holds no audit key).
    const store = openDatabase(db);
    try {
      const row = await store.db
        .selectFrom('api_tokens')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({
        // With sudo, the person behind it too: `alice (as root)`.
        host_made_by: expect.stringContaining(userInfo().username),
        host_name: hostname(),
        host_announced_at: null,
        host_revoked_by: expect.stringContaining(userInfo().username),
        host_revoked_on: hostname(),
        host_revoke_announced_at: null,
      });
    } finally {
      await store.close();
    }
  });

  it('refuses unknown scopes, bad lifetimes and unknown ids clearly', async () => {
    const scope = await stint('admin', 'token', 'create', '--user', 'erin', '--scope', 'root', '--db', db);
    expect(scope.code).toBe(2);
    expect(scope.stderr).toContain('unknown scope root');
    const expires = await stint(
      'admin',
      'token',
      'create',
      '--user',
      'erin',
      '--expires',
      'soon',
      '--db',
      db,
    );
    expect(expires.code).toBe(2);
    expect(expires.stderr).toMatch(/not a duration/);
    const unknown = await stint('admin', 'token', 'revoke', 'AAAAAAAAAAAAAAAA', '--db', db);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('NOT_FOUND');
  });

  it('admin session create signs a person in: a session the store accepts, fresh for a first factor', async () => {
    const created = await stint(
      '--json',
      'admin',
      'session',
      'create',
      '--user',
      'carol',
      '--db',
      db,
      '--policy',
      policy,
    );
    expect(created.code, created.stderr).toBe(0);
    const { token } = JSON.parse(created.stdout) as { token: string };
    const store = openDatabase(db);
    try {
      const s = await createSessionStore(store.db).check(token, new Date());
      expect(s).toMatchObject({ ok: true, userId: 'carol' });
      expect(s.ok && s.authAt !== null && Date.now() - s.authAt.getTime() < 60_000).toBe(true);
    } finally {
      await store.close();
    }
    const unknown = await stint(
      'admin',
      'session',
      'create',
      '--user',
      'nobody',
      '--db',
      db,
      '--policy',
      policy,
    );
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('UNKNOWN_USER');
  });
});
