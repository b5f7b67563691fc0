import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../support/harness.js';
import { TEST_POLICY } from '../support/test-policy.js';
import { authEvents, countRows, freshIp } from './fixtures.js';

/** Scoped, expiring, revocable API tokens for automation; full-power tokens stay for the admin command only. */
describe.each(['sqlite', 'postgresql'] as const)('API tokens (%s)', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    // No OIDC configured: the server works with API tokens exactly as before.
    // prod-db made routine here, so approving it needs no step-up: these tests are about scopes alone.
    const policy = TEST_POLICY.replace('sensitivity: critical', 'sensitivity: routine');
    h = await createHarness(kind, { start: false, policy });
  });
  afterAll(async () => {
    await h?.close();
  });

  const call = (token: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
    h.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}` },
      remoteAddress: freshIp(),
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

  async function mint(user: string, scopes: string[], expiresInDays = 30) {
    const res = await call(h.tokens[user] as string, 'POST', '/v1/tokens', {
      name: 'ci',
      scopes,
      expiresInDays,
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: string; token: string; scopes: string[]; expiresAt: string };
  }

  it('are shown once, listed without the secret, and stored hashed', async () => {
    const made = await mint('alice', ['requests:read']);
    expect(made.token).toMatch(/^stint_/);
    expect(made.scopes).toEqual(['requests:read']);
    const list = await call(h.tokens.alice as string, 'GET', '/v1/tokens');
    const text = list.body;
    expect(text).toContain(made.id);
    expect(text).not.toContain(made.token.split('.')[1]);
    expect(list.json().tokens.every((t: Record<string, unknown>) => !('token' in t) && !('hash' in t))).toBe(
      true,
    );
    const rows = await h.testStore.store.db.selectFrom('api_tokens').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(made.token.split('.')[1]);
  });

  it('allow exactly what their scopes name', async () => {
    const reader = await mint('alice', ['requests:read']);
    expect((await call(reader.token, 'GET', '/v1/requests')).statusCode).toBe(200);
    expect((await call(reader.token, 'GET', '/v1/resources')).statusCode).toBe(200);
    expect((await call(reader.token, 'GET', '/v1/whoami')).statusCode).toBe(200);
    const write = await call(reader.token, 'POST', '/v1/requests', {
      resource: 'prod-db',
      role: 'admin',
      reason: 'INC-1',
    });
    expect(write.statusCode).toBe(403);
    expect(write.json().error.code).toBe('FORBIDDEN');

    const writer = await mint('alice', ['requests:write']);
    const made = await call(writer.token, 'POST', '/v1/requests', {
      resource: 'prod-db',
      role: 'admin',
      reason: 'INC-2',
    });
    expect(made.statusCode, made.body).toBe(201);
    const id = made.json().id;
    // Reading is another scope: the writer sees it as a 403, not its contents.
    expect((await call(writer.token, 'GET', `/v1/requests/${id}`)).statusCode).toBe(403);

    // Approving needs approvals:write, even for the approver.
    const carolRead = await mint('carol', ['requests:read']);
    const denied = await call(carolRead.token, 'POST', `/v1/requests/${id}/approve`, {});
    expect(denied.statusCode).toBe(403);
    expect(denied.json().error.code).toBe('FORBIDDEN');
    const carolApprove = await mint('carol', ['approvals:write']);
    expect((await call(carolApprove.token, 'POST', `/v1/requests/${id}/approve`, {})).statusCode).toBe(200);
    await call(h.tokens.alice as string, 'POST', `/v1/requests/${id}/revoke`, {});

    const erinNoAudit = await mint('erin', ['requests:read']);
    expect((await call(erinNoAudit.token, 'GET', '/v1/audit/leaves')).statusCode).toBe(403);
    const erinAudit = await mint('erin', ['audit:read']);
    expect((await call(erinAudit.token, 'GET', '/v1/audit/leaves')).statusCode).toBe(200);

    // A scoped token can never mint, list or revoke tokens (so a leaked one cannot extend itself).
    const all = await mint('alice', [
      'requests:read',
      'requests:write',
      'approvals:write',
      'credentials:read',
      'audit:read',
    ]);
    const again = await call(all.token, 'POST', '/v1/tokens', {
      name: 'x',
      scopes: ['requests:read'],
      expiresInDays: 1,
    });
    expect(again.statusCode).toBe(403);
    expect((await call(all.token, 'GET', '/v1/tokens')).statusCode).toBe(403);
  });

  it('refuse unknown scopes, no expiry and expiries over 90 days, creating nothing', async () => {
    const before = await countRows(h, 'api_tokens');
    for (const body of [
      { name: 'x', scopes: ['root:all'], expiresInDays: 1 },
      { name: 'x', scopes: [], expiresInDays: 1 },
      { name: 'x', scopes: ['requests:read'] },
      { name: 'x', scopes: ['requests:read'], expiresInDays: 91 },
    ]) {
      const res = await call(h.tokens.alice as string, 'POST', '/v1/tokens', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error.code).toBe('VALIDATION_FAILED');
    }
    await expect(
      h.stint.identity.tokens.create('alice', 'x', new Date(), null, ['requests:read']),
    ).rejects.toThrow(/must expire/);
    expect(await countRows(h, 'api_tokens')).toBe(before);
  });

  it('are refused once revoked (by the owner or an admin; others see not found) or expired', async () => {
    const a = await mint('alice', ['requests:read']);
    expect((await call(h.tokens.mallory as string, 'DELETE', `/v1/tokens/${a.id}`)).statusCode).toBe(404);
    expect((await call(a.token, 'GET', '/v1/requests')).statusCode).toBe(200);
    const revoked = await call(h.tokens.alice as string, 'DELETE', `/v1/tokens/${a.id}`);
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json().revokedAt).toEqual(expect.any(String));
    const after = await call(a.token, 'GET', '/v1/requests');
    expect(after.statusCode).toBe(401);
    expect(after.json().error.code).toBe('UNAUTHENTICATED');

    const b = await mint('alice', ['requests:read']);
    expect((await call(h.tokens.root as string, 'DELETE', `/v1/tokens/${b.id}`)).statusCode).toBe(200);
    expect((await call(b.token, 'GET', '/v1/requests')).statusCode).toBe(401);

    const day = 86_400_000;
    const old = await h.stint.identity.tokens.create(
      'alice',
      'old',
      new Date(Date.now() - 3 * day),
      new Date(Date.now() - day),
      ['requests:read'],
    );
    const expired = await call(old.token, 'GET', '/v1/requests');
    expect(expired.statusCode).toBe(401);

    const failures = (await authEvents(h)).filter((e) => e.action === 'auth.failed');
    const reasons = failures.map((e) => e.parsed.details.reason);
    expect(reasons).toContain('revoked');
    expect(reasons).toContain('expired');
    const revokedEvent = failures.find((e) => e.parsed.details.reason === 'revoked');
    expect(revokedEvent).toMatchObject({ actor: 'alice' });
    expect(revokedEvent?.parsed.details).toMatchObject({ method: 'api-token', id: a.id });
    expect(revokedEvent?.parsed.source.ip).toMatch(/^10\.9\./);
    const text = JSON.stringify(failures);
    for (const t of [a.token, b.token, old.token]) expect(text).not.toContain(t.split('.')[1]);
  });

  it('full-power tokens (made without scopes) keep their user’s whole power', async () => {
    const full = await h.stint.identity.tokens.create('alice', 'admin-made', new Date());
    const res = await call(full.token, 'POST', '/v1/tokens', {
      name: 'y',
      scopes: ['requests:read'],
      expiresInDays: 7,
    });
    expect(res.statusCode).toBe(201);
  });
});
