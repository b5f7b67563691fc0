import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PORTAL_CSP } from '../../src/server/portal.js';
import { PORTAL_PAGES } from '../../src/server/routes/portal-routes.js';
import { createHarness, type Harness } from '../support/harness.js';
import { FIXTURE_SCRIPT, fixturePortal } from './support/fixture-portal.js';

/** How the server serves a built portal (a fixture build here; the real one is driven in portal-e2e.test.ts). */
describe('the server with a built portal', () => {
  let h: Harness;
  let fixture: ReturnType<typeof fixturePortal>;
  beforeAll(async () => {
    fixture = fixturePortal();
    h = await createHarness('sqlite', { start: false, stepUp: false, portal: fixture.portal });
  });
  afterAll(async () => {
    await h?.close();
    fixture?.remove();
  });

  it('answers the shell at / and at every page, under a policy that allows no inline script', async () => {
    for (const path of ['/', ...PORTAL_PAGES, '/approvals?id=req_0123456789abcdef']) {
      const res = await h.app.inject({ method: 'GET', url: path });
      expect(res.statusCode, path).toBe(200);
      expect(res.body).toBe(fixture.portal.index);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['content-security-policy']).toBe(PORTAL_CSP);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
    expect(PORTAL_CSP).toContain("script-src 'self'");
    expect(PORTAL_CSP).toContain("frame-ancestors 'none'");
    // WebAssembly compilation only (the session player's terminal): never script from strings or inline.
    expect(PORTAL_CSP).toContain("script-src 'self' 'wasm-unsafe-eval';");
    expect(PORTAL_CSP).not.toMatch(/'unsafe-inline'|'unsafe-eval'|\*/);
  });

  it('serves built files by name only, compressed when the browser takes it, cached for good', async () => {
    const plain = await h.app.inject({ method: 'GET', url: '/assets/app-1234.js' });
    expect(plain.statusCode).toBe(200);
    expect(plain.body).toBe(FIXTURE_SCRIPT);
    expect(plain.headers['content-type']).toMatch(/javascript/);
    expect(plain.headers['cache-control']).toContain('immutable');
    const gz = await h.app.inject({
      method: 'GET',
      url: '/assets/app-1234.js',
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.rawPayload).toString()).toBe(FIXTURE_SCRIPT);
  });

  it('refuses every other name with the API’s 404, never reading outside the build', async () => {
    for (const url of [
      '/assets/nope.js',
      '/assets/app-1234.js.gz',
      '/assets/../secret.txt',
      '/assets/%2e%2e/secret.txt',
      '/assets/..%2fsecret.txt',
      '/assets//app-1234.js',
      '/assets/',
      '/assets/APP-1234.JS',
    ]) {
      // With a credential, so a path that leaves /assets/ (normalised) meets the API's 404 rather than its 401.
      const res = await h.app.inject({
        method: 'GET',
        url,
        headers: { authorization: `Bearer ${h.tokens.alice}` },
      });
      expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, url).toBeLessThan(500);
      expect(res.body, url).not.toContain('outside the assets folder');
      expect(res.json().error.code, url).toMatch(/NOT_FOUND|VALIDATION_FAILED|BAD_REQUEST/);
    }
  });

  it('an unknown path is still the API’s answer (401 without a credential, 404 with one), not the shell', async () => {
    const anon = await h.app.inject({ method: 'GET', url: '/no-such-page' });
    expect(anon.statusCode).toBe(401);
    const res = await h.app.inject({
      method: 'GET',
      url: '/no-such-page',
      headers: { authorization: `Bearer ${h.tokens.alice}` },
    });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('NOT_FOUND');
  });
});

describe('the server without a built portal', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('sqlite', { start: false, stepUp: false });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('keeps the start page at / and sends the pages there', async () => {
    const home = await h.app.inject({ method: 'GET', url: '/' });
    expect(home.statusCode).toBe(200);
    expect(home.body).toContain('Not signed in');
    expect(home.body).not.toContain('<script');
    for (const page of PORTAL_PAGES) {
      const res = await h.app.inject({ method: 'GET', url: page });
      expect(res.statusCode, page).toBe(303);
      expect(res.headers.location).toBe('/');
    }
    const asset = await h.app.inject({ method: 'GET', url: '/assets/app.js' });
    expect(asset.statusCode).toBe(404);
    expect(asset.json().error.code).toBe('NOT_FOUND');
  });
});
