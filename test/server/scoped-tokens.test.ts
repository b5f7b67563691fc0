import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../support/harness.js';

/**
 * The attacks of issue 14 on scopes and read-only roles, as an outside reviewer ran them against the server:
 * a token scoped to one thing reading everything else, minting a `scim` token, and an auditor writing.
 */
describe('scoped tokens and read-only roles', () => {
  let h: Harness;
  const inAMonth = () => new Date(Date.now() + 30 * 86_400_000);
  const scoped = async (user: string, scope: string) =>
    (await h.stint.identity.tokens.create(user, 'scoped', new Date(), inAMonth(), [scope])).token;
  const get = (token: string, url: string) =>
    h.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    h = await createHarness('sqlite');
    for (const reason of ['INC-1', 'INC-2', 'INC-3']) {
      await h.as('alice').post('/v1/requests', { resource: 'prod-db', role: 'admin', reason });
    }
    await h.stint.audit.log.build({ checkpoint: true });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a credentials:read token lists neither requests nor audit events', async () => {
    const token = await scoped('alice', 'credentials:read');
    for (const url of ['/v1/requests', '/v1/requests?scope=to-approve', '/v1/audit/events']) {
      const res = await get(token, url);
      expect(res.statusCode, `${url}: ${res.body}`).toBe(403);
      expect(res.json().error).toMatchObject({ code: 'FORBIDDEN', details: { needed: expect.any(String) } });
    }
    // The same person's requests:read token does list them: the scope is what decides.
    expect((await get(await scoped('alice', 'requests:read'), '/v1/requests')).statusCode).toBe(200);
  });

  it("an approvals:write token does not list another user's requests waiting for approval", async () => {
    const res = await get(await scoped('carol', 'approvals:write'), '/v1/requests?scope=to-approve');
    expect(res.statusCode, res.body).toBe(403);
    expect(res.json().error.code).toBe('FORBIDDEN');
  });

  it('no scoped token reads the session or the second factors', async () => {
    const token = await scoped('carol', 'approvals:write');
    for (const url of ['/auth/session', '/v1/mfa']) {
      const res = await get(token, url);
      expect(res.statusCode, `${url}: ${res.body}`).toBe(403);
      expect(res.json().error.code).toBe('FORBIDDEN');
    }
    const enroll = await h.app.inject({
      method: 'POST',
      url: '/v1/mfa/totp/enroll',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(enroll.statusCode, enroll.body).toBe(403);
    expect(enroll.json().error.code).toBe('FORBIDDEN');
  });

  it('nobody can mint a scim-scoped token: SCIM takes STINT_SCIM_TOKEN only', async () => {
    const res = await h.as('mallory').post('/v1/tokens', { name: 'x', scopes: ['scim'], expiresInDays: 30 });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(() =>
      h.stint.identity.tokens.create('root', 'x', new Date(), inAMonth(), ['scim']),
    ).rejects.toThrow(/unknown or missing scopes: scim/);
  });

  it('an auditor gets a checkpoint already signed for any size, and nothing is signed, stored or written for it', async () => {
    const db = h.testStore.store.db;
    await h.stint.audit.log.build({ checkpoint: true });
    const stored = async () =>
      (await db.selectFrom('audit_checkpoints').select('size').execute()).map((r) => r.size);
    const before = await stored();
    const size = [1, 2, 3].find((n) => !before.includes(n)) as number;
    // The server's own checkpoints keep being written meanwhile (one a second): only a file at `size` would be
    // the auditor's.
    const atSize = () =>
      h.stint.audit.log
        .writtenFiles()
        .filter((f) => f.endsWith(`checkpoint-${String(size).padStart(12, '0')}.txt`));
    const res = await h.as('erin').post('/v1/audit/checkpoints', { size });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.size).toBeGreaterThan(size);
    expect(before).toContain(res.body.size);
    expect(await stored()).not.toContain(size);
    expect(atSize()).toEqual([]);
    // Security signs and keeps it, as before.
    expect((await h.as('sam').post('/v1/audit/checkpoints', { size })).status).toBe(200);
    expect(await stored()).toContain(size);
  });

  it('a whole-trail verification runs one at a time: a second one meanwhile is refused, not queued', async () => {
    const [a, b] = await Promise.all([
      h.as('erin').post('/v1/audit/verify'),
      h.as('erin').post('/v1/audit/verify'),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 429]);
    expect((a.status === 429 ? a : b).body.error.code).toBe('AUDIT_VERIFY_RUNNING');
    expect((await h.as('erin').post('/v1/audit/verify')).body.ok).toBe(true);
  });
});
