import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PORTAL_ROUTE_ACCESS } from '../../src/server/routes/portal-routes.js';
import type { Harness } from '../support/harness.js';
import { identityHarness } from './fixtures.js';
import { startIdp, type TestIdp } from './idp.js';

/**
 * With single sign-on on, the routes it adds are the only new ones reachable without a credential. (The
 * authorization matrix in test/server walks every route of the server without OIDC.)
 */
describe('routes with OIDC configured', () => {
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

  const PUBLIC = new Set([
    'GET /healthz',
    'GET /readyz',
    'GET /openapi.json',
    'GET /',
    'GET /audit/checkpoint',
    'GET /v1/audit/key',
    'GET /v1/audit/checkpoints',
    'GET /v1/audit/proof/consistency',
    'GET /v1/auth/config',
    'POST /v1/auth/token',
    'GET /auth/login',
    'GET /auth/callback',
    // The delivery's own HMAC token is the credential: whoever acknowledges (an on-call engineer reading mail,
    // a pager's webhook) may have no Stint session (docs/notifications.md).
    'POST /v1/notifications/deliveries/{id}/ack',
    // The portal's page shells (the page signs in itself) and its assets.
    ...Object.keys(PORTAL_ROUTE_ACCESS).map((key) => key.replace(/:(\w+)/g, '{$1}')),
  ]);

  it('answers 401 without a credential everywhere but the public routes', async () => {
    const spec = (await h.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const routes = Object.entries(spec.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, ops]) => Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path })),
    );
    expect(routes.map((r) => `${r.method} ${r.path}`)).toContain('POST /v1/auth/token');
    for (const { method, path } of routes) {
      if (PUBLIC.has(`${method} ${path}`) || path.startsWith('/scim/')) continue;
      const url = path.replace(/\{id\}/g, 'req_0000000000000000');
      const res = await h.app.inject({ method: method as 'GET', url, remoteAddress: '10.7.7.7' });
      expect(res.statusCode, `${method} ${path}`).toBe(401);
    }
    const config = await h.app.inject({ method: 'GET', url: '/v1/auth/config' });
    expect(config.json()).toEqual({
      issuer: `${idp.issuer}/`,
      clientId: idp.cliClientId,
      scopes: 'openid email profile',
    });
  });
});
