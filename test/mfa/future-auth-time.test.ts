import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testIdentityConfig } from '../identity/fixtures.js';
import { startIdp, type TestIdp } from '../identity/idp.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

/**
 * Issue 20: an `auth_time` a month ahead, with an MFA `amr`, made one second factor at the provider count as a
 * fresh step-up for the whole session. A time further ahead than clock skew explains now never counts, as the
 * first-factor enrolment check already refused it.
 */
describe.each(STORE_KINDS)("a provider's auth_time in the future (%s)", (kind) => {
  let idp: TestIdp;
  let h: Harness;

  beforeAll(async () => {
    idp = await startIdp();
    h = await createHarness(kind, { stepUp: false, identity: { config: testIdentityConfig(idp) } });
  });
  afterAll(async () => {
    await h?.close();
    await idp?.close();
  });

  /** carol's CLI session from an ID token the provider signed, saying she used a second factor at `authTime`. */
  async function carolWithMfaAt(authTime: number): Promise<string> {
    const idToken = await idp.forge({
      sub: 'carol@example.com',
      email: 'carol@example.com',
      amr: ['pwd', 'mfa'],
      auth_time: authTime,
      jti: randomBytes(8).toString('hex'),
    });
    const res = await h.app.inject({ method: 'POST', url: '/v1/auth/token', payload: { id_token: idToken } });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().token;
  }

  const call = async (bearer: string, method: 'GET' | 'POST', url: string, body?: object) => {
    const res = await h.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${bearer}` },
      ...(body === undefined ? {} : { payload: body }),
    });
    return { status: res.statusCode, body: res.body ? res.json() : null };
  };

  it('is not a fresh step-up: approving critical access is refused, and status says none', async () => {
    const request = await h
      .as('alice')
      .postSettled('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-30' });
    expect(request.status, JSON.stringify(request.body)).toBe(201);
    const id = request.body.id as string;
    const now = Math.floor(Date.now() / 1000);

    const ahead = await carolWithMfaAt(now + 30 * 86_400);
    expect((await call(ahead, 'GET', '/v1/mfa')).body).toMatchObject({ verifiedAt: null });
    const refused = await call(ahead, 'POST', `/v1/requests/${id}/approve`, {});
    expect([refused.status, refused.body.error.code]).toEqual([403, 'MFA_REQUIRED']);
    expect((await h.as('alice').get(`/v1/requests/${id}`)).body.state).toBe('pending');

    // The same second factor at the provider, a minute ago, counts: the refusal above is about the time alone.
    const recent = await carolWithMfaAt(now - 60);
    expect((await call(recent, 'GET', '/v1/mfa')).body.verifiedAt).not.toBeNull();
    const approved = await call(recent, 'POST', `/v1/requests/${id}/approve`, {});
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    await h.settled(id);
    await h.as('alice').post(`/v1/requests/${id}/revoke`, {});
  });
});
