import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Harness } from '../support/harness.js';
import { authEvents, countRows, freshIp, identityHarness } from './fixtures.js';
import { startIdp, type TestIdp } from './idp.js';

/** The portal's sign-in, by hand: Stint's redirect, the provider's login, the callback, then the cookie. */
describe('portal sign-in (authorization code + PKCE) against a real OpenID provider', () => {
  let idp: TestIdp;
  let h: Harness;
  beforeAll(async () => {
    idp = await startIdp();
    h = await identityHarness(idp);
  });
  afterAll(async () => {
    await h?.close();
    await idp?.close();
  });

  async function beginLogin(remoteAddress = '127.0.0.1') {
    const res = await h.app.inject({ method: 'GET', url: '/auth/login', remoteAddress });
    expect(res.statusCode, res.body).toBe(302);
    const location = new URL(res.headers.location as string);
    const cookie = res.cookies.find((c) => c.name === 'stint_login');
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/auth' });
    return { location, loginCookie: cookie?.value as string };
  }

  async function signIn(email: string, amr = ['pwd']) {
    idp.nextLogin = { email, amr };
    idp.newBrowser();
    const { location, loginCookie } = await beginLogin();
    const back = await idp.browse(location.href);
    const res = await h.app.inject({
      method: 'GET',
      url: `${back.pathname}${back.search}`,
      cookies: { stint_login: loginCookie },
    });
    return { res, location, back };
  }

  it('redirects with PKCE S256, state and nonce, then signs in and sets a secure session cookie', async () => {
    const before = await countRows(h, 'sessions');
    const { res, location, back } = await signIn('alice@example.com');
    expect(location.origin).toBe(idp.issuer);
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(location.searchParams.get('code_challenge')).toBeTruthy();
    expect(location.searchParams.get('state')).toBeTruthy();
    expect(location.searchParams.get('nonce')).toBeTruthy();
    expect(back.searchParams.get('code')).toBeTruthy();

    expect(res.statusCode, res.body).toBe(303);
    const session = res.cookies.find((c) => c.name === 'stint_session');
    expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });
    expect(session?.value).toMatch(/^stints_/);
    expect(await countRows(h, 'sessions')).toBe(before + 1);
    const stintSession = session?.value as string;

    const who = await h.app.inject({
      method: 'GET',
      url: '/v1/whoami',
      cookies: { stint_session: stintSession },
    });
    expect(who.statusCode).toBe(200);
    expect(who.json().id ?? who.json().userId).toBe('alice');

    const info = await h.app.inject({
      method: 'GET',
      url: '/auth/session',
      cookies: { stint_session: stintSession },
    });
    expect(info.json()).toMatchObject({ userId: 'alice', method: 'cookie', mfaAt: null });
    const csrf = info.json().csrfToken as string;
    expect(csrf).toBeTruthy();

    // A state change by cookie needs the CSRF header: without it, refused and nothing is created.
    const body = { resource: 'prod-db', role: 'admin', reason: 'INC-7' };
    const noCsrf = await h.app.inject({
      method: 'POST',
      url: '/v1/requests',
      cookies: { stint_session: stintSession },
      payload: body,
    });
    expect(noCsrf.statusCode).toBe(403);
    expect(noCsrf.json().error.code).toBe('CSRF_TOKEN_INVALID');
    const wrongCsrf = await h.app.inject({
      method: 'POST',
      url: '/v1/requests',
      cookies: { stint_session: stintSession },
      headers: { 'x-csrf-token': `${csrf}x` },
      payload: body,
    });
    expect(wrongCsrf.json().error.code).toBe('CSRF_TOKEN_INVALID');
    const withCsrf = await h.app.inject({
      method: 'POST',
      url: '/v1/requests',
      cookies: { stint_session: stintSession },
      headers: { 'x-csrf-token': csrf },
      payload: body,
    });
    expect(withCsrf.statusCode, withCsrf.body).toBe(201);

    // Bearer calls need no CSRF token: no browser attaches them by itself.
    const bearer = await h.as('bob').post('/v1/requests', body);
    expect(bearer.status).toBe(201);

    const logout = await h.app.inject({
      method: 'POST',
      url: '/auth/logout',
      cookies: { stint_session: stintSession },
      headers: { 'x-csrf-token': csrf },
    });
    expect(logout.statusCode).toBe(204);
    const after = await h.app.inject({
      method: 'GET',
      url: '/v1/whoami',
      cookies: { stint_session: stintSession },
    });
    expect(after.statusCode).toBe(401);

    const events = await authEvents(h);
    const ok = events.find((e) => e.action === 'auth.succeeded' && e.parsed.details.method === 'oidc');
    expect(ok).toMatchObject({ actor: 'alice' });
    expect(ok?.parsed.source.ip).toBe('127.0.0.1');
    const all = JSON.stringify(events);
    expect(all).not.toContain(stintSession.split('.')[1]);
    expect(all).not.toContain(back.searchParams.get('code'));
  });

  it('records the second factor the provider reports (amr) on the session', async () => {
    const { res } = await signIn('carol@example.com', ['pwd', 'otp']);
    expect(res.statusCode, res.body).toBe(303);
    const cookie = res.cookies.find((c) => c.name === 'stint_session')?.value as string;
    const info = await h.app.inject({
      method: 'GET',
      url: '/auth/session',
      cookies: { stint_session: cookie },
    });
    expect(info.json().mfaAt).toEqual(expect.any(String));
    expect(Math.abs(Date.parse(info.json().mfaAt) - Date.now())).toBeLessThan(60_000);
  });

  it('refuses a callback whose state does not match, and creates nothing', async () => {
    const before = await countRows(h, 'sessions');
    idp.nextLogin = { email: 'alice@example.com', amr: ['pwd'] };
    const { location, loginCookie } = await beginLogin();
    const back = await idp.browse(location.href);
    back.searchParams.set('state', 'forged-state');
    const res = await h.app.inject({
      method: 'GET',
      url: `${back.pathname}${back.search}`,
      cookies: { stint_login: loginCookie },
      remoteAddress: freshIp(),
    });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('LOGIN_STATE_INVALID');
    expect(res.cookies.find((c) => c.name === 'stint_session')).toBeUndefined();
    expect(await countRows(h, 'sessions')).toBe(before);
    const failed = (await authEvents(h)).filter((e) => e.action === 'auth.failed');
    expect(failed.at(-1)?.parsed.details).toMatchObject({ method: 'oidc', reason: 'LOGIN_STATE_INVALID' });
  });

  it('refuses a callback without the login cookie, or with a tampered one', async () => {
    const before = await countRows(h, 'sessions');
    idp.nextLogin = { email: 'alice@example.com', amr: ['pwd'] };
    const { location, loginCookie } = await beginLogin();
    const back = await idp.browse(location.href);
    const url = `${back.pathname}${back.search}`;
    const none = await h.app.inject({ method: 'GET', url, remoteAddress: freshIp() });
    expect(none.json().error.code).toBe('LOGIN_STATE_INVALID');
    const tampered = `${loginCookie.slice(0, -4)}AAAA`;
    const bad = await h.app.inject({
      method: 'GET',
      url,
      cookies: { stint_login: tampered },
      remoteAddress: freshIp(),
    });
    expect(bad.json().error.code).toBe('LOGIN_STATE_INVALID');
    expect(await countRows(h, 'sessions')).toBe(before);
  });

  it('refuses a code presented with another login’s state cookie (PKCE verifier and nonce do not match)', async () => {
    const before = await countRows(h, 'sessions');
    idp.nextLogin = { email: 'alice@example.com', amr: ['pwd'] };
    const first = await beginLogin();
    const second = await beginLogin();
    const back = await idp.browse(second.location.href);
    // The attacker's code, replayed into the victim's browser login (state rewritten to the victim's).
    back.searchParams.set('state', first.location.searchParams.get('state') as string);
    const res = await h.app.inject({
      method: 'GET',
      url: `${back.pathname}${back.search}`,
      cookies: { stint_login: first.loginCookie },
      remoteAddress: freshIp(),
    });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toMatch(/UNAUTHENTICATED|ID_TOKEN_INVALID|NONCE_MISMATCH/);
    expect(await countRows(h, 'sessions')).toBe(before);
  });

  it('refuses someone the directory does not know', async () => {
    const before = await countRows(h, 'sessions');
    const { res } = await signIn('stranger@example.com');
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('UNKNOWN_IDENTITY');
    expect(await countRows(h, 'sessions')).toBe(before);
  });

  describe('an ID token altered between the token endpoint and Stint', () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    type SigningKey = Parameters<SignJWT['sign']>[0];
    const resign = async (idToken: string, key: SigningKey, kid: string, change = {}) =>
      new SignJWT({ ...decodeJwt(idToken), ...change }).setProtectedHeader({ alg: 'RS256', kid }).sign(key);

    const forgeries: Record<string, (idToken: string) => Promise<string>> = {
      'signed by another key under the provider’s key id': async (t) =>
        resign(t, (await generateKeyPair('RS256')).privateKey, idp.signingKey.kid),
      'signed by a key the provider does not publish': async (t) =>
        resign(t, (await generateKeyPair('RS256')).privateKey, 'k-unknown'),
      'with its subject swapped to an admin (signature left as it was)': async (t) => {
        const [header, payload, signature] = t.split('.') as [string, string, string];
        const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
        return `${header}.${b64({ ...claims, sub: 'root@example.com', email: 'root@example.com' })}.${signature}`;
      },
      'issued an hour in the future (signed by the provider)': async (t) => {
        const later = Math.floor(Date.now() / 1000) + 3600;
        return resign(t, idp.signingKey.privateKey, idp.signingKey.kid, {
          iat: later,
          exp: later + 600,
        });
      },
    };

    for (const [name, forge] of Object.entries(forgeries)) {
      it(`refuses one ${name}`, async () => {
        const before = await countRows(h, 'sessions');
        idp.tamperIdToken = forge;
        try {
          const { res } = await signIn('alice@example.com');
          expect(res.statusCode, res.body).toBe(401);
          expect(res.json().error.code).toBe('ID_TOKEN_INVALID');
          expect(res.cookies.find((c) => c.name === 'stint_session')).toBeUndefined();
        } finally {
          idp.tamperIdToken = null;
        }
        expect(await countRows(h, 'sessions')).toBe(before);
      });
    }
  });
});
