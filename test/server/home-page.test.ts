import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionStore } from '../../src/identity/session-store.js';
import { identityHarness } from '../identity/fixtures.js';
import { startIdp, type TestIdp } from '../identity/idp.js';
import { createHarness, type Harness } from '../support/harness.js';
import { TEST_POLICY } from '../support/test-policy.js';

/** `GET /` is where a browser sign-in lands and where a newcomer starts: it must answer, and say who you are. */
describe('the start page without single sign-on', () => {
  let h: Harness;
  beforeAll(async () => {
    // A display name with markup in it: the page must show it as text.
    const policy = TEST_POLICY.replace('name: Alice,', `name: "Al<i>ce & 'x'",`);
    expect(policy).not.toBe(TEST_POLICY);
    h = await createHarness('sqlite', { start: false, policy });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers anonymous callers with a page pointing at the API document and the CLI', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.body).toContain('Not signed in');
    expect(res.body).toContain('API tokens only');
    expect(res.body).not.toContain('/auth/login');
    expect(res.body).toContain('href="/openapi.json"');
    expect(res.body).toContain('stint login');
    expect(res.body).toContain('export STINT_URL=http://localhost:80');
    expect(res.body).not.toContain('<script');
  });

  it('names the caller of a valid API token, escaped', async () => {
    const res = await h.app.inject({
      method: 'GET',
      url: '/',
      headers: { authorization: `Bearer ${h.tokens.alice}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('Signed in as <strong>alice</strong>');
    expect(res.body).toContain('(Al&lt;i&gt;ce &amp; &#39;x&#39;), by API token');
    expect(res.body).not.toContain('Al<i>ce');
  });

  it('names the caller of a valid CLI session', async () => {
    const sessions = createSessionStore(h.testStore.store.db);
    const s = await sessions.create({
      userId: 'bob',
      source: 'cli',
      now: new Date(),
      ttlMs: 60_000,
      mfaAt: null,
    });
    const res = await h.app.inject({
      method: 'GET',
      url: '/',
      headers: { authorization: `Bearer ${s.token}` },
    });
    expect(res.body).toContain('Signed in as <strong>bob</strong> (Bob), by CLI session');
  });

  it('shows the signed-out page, never an error, for a credential that does not check out', async () => {
    const sessions = createSessionStore(h.testStore.store.db);
    const s = await sessions.create({
      userId: 'bob',
      source: 'cli',
      now: new Date(),
      ttlMs: 60_000,
      mfaAt: null,
    });
    await sessions.revoke(s.id, new Date());
    const forged = h.tokens.alice?.slice(0, -2).concat('xx') as string;
    for (const headers of [
      { authorization: `Bearer ${forged}` },
      { authorization: `Bearer ${s.token}` },
      { authorization: 'Bearer ' },
      { authorization: 'Basic YWxpY2U6cHc=' },
      { cookie: 'stint_session=stints_nonsense' },
    ]) {
      const res = await h.app.inject({ method: 'GET', url: '/', headers });
      expect(res.statusCode, JSON.stringify(headers)).toBe(200);
      expect(res.body).toContain('Not signed in');
      expect(res.body).not.toContain('Signed in as');
    }
  });

  it('escapes the host it echoes into the CLI example', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/', headers: { host: 'x"><b>y' } });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain('<b>y');
    expect(res.body).toContain('x&quot;&gt;&lt;b&gt;y');
  });
});

describe('the start page after a portal sign-in', () => {
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

  it('offers the sign-in to anonymous callers', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<a href="/auth/login">Sign in</a>');
  });

  it('is where the callback lands, and it names who signed in', async () => {
    idp.nextLogin = { email: 'alice@example.com', amr: ['pwd'] };
    idp.newBrowser();
    const login = await h.app.inject({ method: 'GET', url: '/auth/login' });
    const loginCookie = login.cookies.find((c) => c.name === 'stint_login')?.value as string;
    const back = await idp.browse(new URL(login.headers.location as string).href);
    const callback = await h.app.inject({
      method: 'GET',
      url: `${back.pathname}${back.search}`,
      cookies: { stint_login: loginCookie },
    });
    expect(callback.statusCode, callback.body).toBe(303);
    expect(callback.headers.location).toBe('/');
    const session = callback.cookies.find((c) => c.name === 'stint_session')?.value as string;

    const home = await h.app.inject({ method: 'GET', url: '/', cookies: { stint_session: session } });
    expect(home.statusCode, home.body).toBe(200);
    expect(home.body).toContain('Signed in as <strong>alice</strong> (Alice), by portal session');
    expect(home.body).not.toContain('/auth/login');
  });
});
