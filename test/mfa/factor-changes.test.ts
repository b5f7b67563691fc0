import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignInSession } from '../../src/app/session-admin.js';
import { testIdentityConfig } from '../identity/fixtures.js';
import { startIdp, type TestIdp } from '../identity/idp.js';
import { createHarness, type Harness } from '../support/harness.js';
import { stepUp, totpCode } from '../support/step-up.js';
import { STORE_KINDS } from '../support/stores.js';
import { TEST_POLICY } from '../support/test-policy.js';

/**
 * Issue 14's attack, against the real server signing in at a real OpenID provider: a scoped (or any) API token
 * planted a second factor and then approved critical access. Factors are now changed only in a session the
 * person signed in to, freshly at the provider for a first factor; every change is audited for the person to be
 * told; and a lost factor is reset by an admin and a second person from security.
 */
describe.each(STORE_KINDS)('changing second factors on %s', (kind) => {
  let idp: TestIdp;
  let h: Harness;
  const inAMonth = () => new Date(Date.now() + 30 * 86_400_000);

  beforeAll(async () => {
    idp = await startIdp();
    h = await createHarness(kind, {
      stepUp: false,
      identity: {
        config: testIdentityConfig(idp),
      },
    });
    // The two people a reset needs, and a second one from security, each with a factor of their own.
    for (const user of ['root', 'sam', 'dave']) await stepUp(h.stint, user, h.tokens[user] as string);
  });
  afterAll(async () => {
    await h?.close();
    await idp?.close();
  });

  const call = async (bearer: string, method: 'GET' | 'POST', url: string, body?: object) => {
    const res = await h.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${bearer}` },
      ...(body === undefined ? {} : { payload: body }),
    });
    return { status: res.statusCode, body: res.body ? res.json() : null };
  };

  /** `stint login`: a fresh sign-in at the provider, exchanged for a CLI session token. */
  async function signIn(user: string): Promise<string> {
    idp.newBrowser();
    const nonce = randomBytes(16).toString('base64url');
    const idToken = await idp.cliIdToken(nonce, `${user}@example.com`);
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/token',
      payload: { id_token: idToken, nonce },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().token;
  }

  /** A session from an ID token the provider signed, with `auth_time` as given (undefined: none). */
  async function sessionWithAuthTime(user: string, authTime: number | undefined): Promise<string> {
    const idToken = await idp.forge({
      sub: `${user}@example.com`,
      email: `${user}@example.com`,
      jti: randomBytes(8).toString('hex'),
      ...(authTime === undefined ? {} : { auth_time: authTime }),
    });
    const res = await h.app.inject({ method: 'POST', url: '/v1/auth/token', payload: { id_token: idToken } });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().token;
  }

  /**
   * The code for `secret` `offsetSteps` after the step the server's clock is in now: confirming with this step's
   * and verifying with the next holds whether or not a 30-s boundary passes in between (support/step-up.ts).
   */
  const codeAt = (secret: string, offsetSteps: number) => totpCode(secret, h.stint.deps.clock(), offsetSteps);

  /** Enrol, confirm and step up with TOTP, in `session`. */
  async function enrolTotp(session: string) {
    const enrolled = await call(session, 'POST', '/v1/mfa/totp/enroll');
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(201);
    const secret = enrolled.body.secret as string;
    expect(
      (await call(session, 'POST', '/v1/mfa/totp/confirm', { code: await codeAt(secret, 0) })).status,
    ).toBe(200);
    const verified = await call(session, 'POST', '/v1/mfa/verify', {
      method: 'totp',
      code: await codeAt(secret, 1),
    });
    expect(verified.status, JSON.stringify(verified.body)).toBe(200);
    return secret;
  }

  const totpRows = async (user: string) =>
    h.testStore.store.db.selectFrom('mfa_totp').select('user_id').where('user_id', '=', user).execute();

  const events = async (action: string) =>
    (
      await h.testStore.store.db
        .selectFrom('audit_events')
        .select(['actor', 'body'])
        .where('action', '=', action)
        .orderBy('seq')
        .execute()
    ).map((e) => ({ actor: e.actor, body: e.body ?? '', details: JSON.parse(e.body ?? '{}').details }));

  it('no API token plants a factor: the scoped one is refused by scope, the full-power one needs a session', async () => {
    const request = await h
      .as('alice')
      .postSettled('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-7' });
    expect(request.status).toBe(201);
    const id = request.body.id as string;
    const scoped = (
      await h.stint.identity.tokens.create('carol', 'bot', new Date(), inAMonth(), ['approvals:write'])
    ).token;

    const approve = await call(scoped, 'POST', `/v1/requests/${id}/approve`, {});
    expect([approve.status, approve.body.error.code]).toEqual([403, 'MFA_REQUIRED']);
    const planted = await call(scoped, 'POST', '/v1/mfa/totp/enroll');
    expect([planted.status, planted.body.error.code]).toEqual([403, 'FORBIDDEN']);
    const full = await call(h.tokens.carol as string, 'POST', '/v1/mfa/totp/enroll');
    expect([full.status, full.body.error.code]).toEqual([403, 'SESSION_REQUIRED']);
    expect(await totpRows('carol')).toEqual([]);
    expect((await call(scoped, 'POST', `/v1/requests/${id}/approve`, {})).status).toBe(403);

    // The real carol, signed in just now, enrols her own factor and approves with it.
    const session = await signIn('carol');
    const secret = await enrolTotp(session);
    const approved = await call(session, 'POST', `/v1/requests/${id}/approve`, {});
    // Issuance runs after the approval commits: the grant is active once it has settled.
    await h.settled(id);
    const settled = await call(session, 'GET', `/v1/requests/${id}`);
    expect([approved.status, settled.body.state]).toEqual([200, 'active']);
    await h.as('alice').post(`/v1/requests/${id}/revoke`, {});

    // Audited, naming her for the notice, and never with the secret.
    const enrolled = (await events('mfa.enrolled')).filter((e) => e.actor === 'carol');
    expect(enrolled.map((e) => [e.actor, e.details])).toEqual([
      ['carol', { method: 'totp', stage: 'confirm', notify: ['carol'] }],
    ]);
    for (const e of enrolled) expect(e.body).not.toContain(secret);
  });

  it('a first factor needs a sign-in at the provider in the last few minutes (its auth_time)', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const authTime of [now - 3600, undefined, now + 3600]) {
      const session = await sessionWithAuthTime('bob', authTime);
      const res = await call(session, 'POST', '/v1/mfa/totp/enroll');
      expect([res.status, res.body.error.code], `auth_time ${authTime}`).toEqual([403, 'REAUTH_REQUIRED']);
    }
    expect(await totpRows('bob')).toEqual([]);
    const fresh = await sessionWithAuthTime('bob', now - 30);
    expect((await call(fresh, 'POST', '/v1/mfa/totp/enroll')).status).toBe(201);
  });

  it('a lost factor is reset by an admin and confirmed by a second person from security, then enrolled afresh', async () => {
    expect(await totpRows('carol')).toHaveLength(1);
    const asked = await h.as('root').post('/v1/mfa/resets', { user: 'carol', reason: 'lost phone, INC-9' });
    expect(asked.status, JSON.stringify(asked.body)).toBe(201);
    const id = asked.body.id as string;
    expect(asked.body).toMatchObject({ user: 'carol', requestedBy: 'root', confirmedBy: null });

    // Nobody but an admin asks, and not for themselves; nobody but security confirms.
    expect((await h.as('sam').post('/v1/mfa/resets', { user: 'carol', reason: 'x' })).body.error.code).toBe(
      'FORBIDDEN',
    );
    expect((await h.as('root').post('/v1/mfa/resets', { user: 'root', reason: 'x' })).body.error.code).toBe(
      'FORBIDDEN',
    );
    expect((await h.as('root').post('/v1/mfa/resets', { user: 'nobody', reason: 'x' })).body.error.code).toBe(
      'UNKNOWN_USER',
    );
    // The admin who asked is not security here; were they both, SELF_APPROVAL (factor-reset unit test).
    expect((await h.as('root').post(`/v1/mfa/resets/${id}/confirm`)).body.error.code).toBe('FORBIDDEN');
    expect((await h.as('carol').post(`/v1/mfa/resets/${id}/confirm`)).body.error.code).toBe('FORBIDDEN');
    expect(await totpRows('carol')).toHaveLength(1);

    const confirmed = await h.as('sam').post(`/v1/mfa/resets/${id}/confirm`);
    expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200);
    expect(confirmed.body).toMatchObject({ user: 'carol', requestedBy: 'root', confirmedBy: 'sam' });
    expect(await totpRows('carol')).toEqual([]);
    // Once only.
    expect((await h.as('dave').post(`/v1/mfa/resets/${id}/confirm`)).status).toBe(404);

    expect((await events('mfa.reset-requested')).map((e) => [e.actor, e.details])).toEqual([
      ['root', { resetId: id, user: 'carol', notify: ['carol'] }],
    ]);
    expect((await events('mfa.reset')).map((e) => [e.actor, e.details])).toEqual([
      [
        'sam',
        {
          resetId: id,
          user: 'carol',
          requestedBy: 'root',
          removed: { totp: 1, webauthn: 0 },
          notify: ['carol', 'root'],
        },
      ],
    ]);

    // Her earlier step-up no longer counts, and she enrols a new factor after a fresh sign-in.
    const session = await signIn('carol');
    expect((await call(session, 'GET', '/v1/mfa')).body).toMatchObject({ totp: 'none', verifiedAt: null });
    await enrolTotp(session);
  });

  it('without a provider, an operator signs the person in on the host (`stint admin session create`)', async () => {
    const policyPath = join(mkdtempSync(join(tmpdir(), 'stint-policy-')), 'stint.yaml');
    writeFileSync(policyPath, TEST_POLICY);
    const { token } = await createSignInSession({
      userId: 'mallory',
      databaseUrl: h.testStore.url,
      policyPath,
    });
    expect(token).toMatch(/^stints_/);
    // A first factor (the default STINT_HOST_SESSIONS=first-factor); stepping up with it is refused.
    const enrolled = await call(token, 'POST', '/v1/mfa/totp/enroll');
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(201);
    await expect(
      createSignInSession({ userId: 'nobody', databaseUrl: h.testStore.url, policyPath }),
    ).rejects.toMatchObject({ code: 'UNKNOWN_USER' });
  });

  it('the person whose factors are reset cannot be the one who confirms it', async () => {
    const asked = await h.as('root').post('/v1/mfa/resets', { user: 'sam', reason: 'lost key' });
    const refused = await h.as('sam').post(`/v1/mfa/resets/${asked.body.id}/confirm`);
    expect([refused.status, refused.body.error.code]).toEqual([403, 'FORBIDDEN']);
    expect((await h.as('dave').post(`/v1/mfa/resets/${asked.body.id}/confirm`)).status).toBe(200);
  });
});
