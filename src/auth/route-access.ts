import type { Scope } from './scopes.js';

/**
 * What a route asks of its caller, before any role or ownership rule (authorize.ts) is applied:
 * - 'public': no credential (health, sign-in, the audit log's public checkpoints and proofs);
 * - 'scim-token': no user credential; the SCIM plugin checks the provisioning token (STINT_SCIM_TOKEN) itself;
 * - 'any': any valid user credential, whatever its scopes;
 * - a scope: a scoped API token must carry it (sessions and full-power tokens pass);
 * - null: people and full-power tokens only: no scoped token (sessions, tokens, second factors).
 */
export type RouteAccess = 'public' | 'scim-token' | 'any' | Scope | null;

const scim = (paths: string[]): Record<string, RouteAccess> =>
  Object.fromEntries(paths.map((p) => [p, 'scim-token']));

/**
 * The one table of routes, keyed `METHOD /url` as Fastify registers them (HEAD follows its GET). A route that is
 * not here does not boot (authenticate.ts checks every route as it is added), and the authorization test walks
 * this table against the server's real route table.
 */
export const ROUTE_ACCESS: Readonly<Record<string, RouteAccess>> = {
  'GET /': 'public',
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /openapi.json': 'public',

  'GET /v1/whoami': 'any',
  'GET /v1/resources': 'requests:read',

  'POST /v1/requests': 'requests:write',
  'GET /v1/requests': 'requests:read',
  'GET /v1/requests/:id': 'requests:read',
  'POST /v1/requests/:id/approve': 'approvals:write',
  'POST /v1/requests/:id/deny': 'approvals:write',
  'POST /v1/requests/:id/withdraw': 'requests:write',
  'POST /v1/requests/:id/revoke': 'requests:write',
  'POST /v1/requests/:id/credentials': 'credentials:read',

  'GET /v1/audit/events': 'audit:read',
  // Hashes only, for witnesses and monitors.
  'GET /audit/checkpoint': 'public',
  'GET /v1/audit/key': 'public',
  'GET /v1/audit/checkpoints': 'public',
  'GET /v1/audit/proof/consistency': 'public',
  // Read-only for auditors and scoped tokens (a checkpoint already signed); signing one needs security or an
  // admin with a full-power credential (audit-service.ts).
  'POST /v1/audit/checkpoints': 'audit:read',
  'GET /v1/audit/leaves': 'audit:read',
  'GET /v1/audit/range': 'audit:read',
  'GET /v1/audit/frontier': 'audit:read',
  'GET /v1/audit/proof/inclusion': 'audit:read',
  // One at a time per server and 6 a minute per caller (audit-log-routes.ts).
  'POST /v1/audit/verify': 'audit:read',

  'GET /v1/auth/config': 'public',
  'GET /auth/login': 'public',
  'GET /auth/callback': 'public',
  'POST /v1/auth/token': 'public',
  'GET /auth/session': null,
  'POST /auth/logout': null,

  // A scoped token can never mint, list or revoke tokens: a leaked automation token cannot extend itself.
  'GET /v1/tokens': null,
  'POST /v1/tokens': null,
  'DELETE /v1/tokens/:id': null,

  // Second factors are the person's own; enrolling one further needs a sign-in session (mfa/factors.ts).
  'GET /v1/mfa': null,
  'POST /v1/mfa/totp/enroll': null,
  'POST /v1/mfa/totp/confirm': null,
  'POST /v1/mfa/verify': null,
  'POST /v1/mfa/webauthn/register/options': null,
  'POST /v1/mfa/webauthn/register/verify': null,
  'POST /v1/mfa/webauthn/authenticate/options': null,
  'POST /v1/mfa/webauthn/authenticate/verify': null,
  // Someone else's factors: an admin asks, a second person from security confirms (mfa/factor-reset.ts).
  'POST /v1/mfa/resets': null,
  'POST /v1/mfa/resets/:id/confirm': null,

  ...scim([
    'GET /scim/v2/ServiceProviderConfig',
    'GET /scim/v2/Schemas',
    'GET /scim/v2/Schemas/:id',
    'GET /scim/v2/ResourceTypes',
    'GET /scim/v2/ResourceTypes/:id',
    'POST /scim/v2/Users',
    'GET /scim/v2/Users',
    'GET /scim/v2/Users/:id',
    'PUT /scim/v2/Users/:id',
    'PATCH /scim/v2/Users/:id',
    'DELETE /scim/v2/Users/:id',
    'POST /scim/v2/Groups',
    'GET /scim/v2/Groups',
    'GET /scim/v2/Groups/:id',
    'PUT /scim/v2/Groups/:id',
    'PATCH /scim/v2/Groups/:id',
    'DELETE /scim/v2/Groups/:id',
    'POST /scim/v2/Bulk',
  ]),
  // Every other path under /scim/v2, any method: the SCIM plugin answers it with a SCIM 404 (or 501).
  '* /scim/v2/*': 'scim-token',
};

/** The row of a route; HEAD is answered by its GET. Undefined for a route nobody declared. */
export function routeAccess(method: string, url: string): RouteAccess | undefined {
  for (const key of [`${method === 'HEAD' ? 'GET' : method} ${url}`, `* ${url}`]) {
    if (Object.hasOwn(ROUTE_ACCESS, key)) return ROUTE_ACCESS[key];
  }
  return undefined;
}

/** Whether a credential with these scopes (null: a person, or a full-power token) may call the route. */
export function scopeAllows(access: RouteAccess, scopes: readonly string[] | null): boolean {
  if (scopes === null || access === 'any' || access === 'public' || access === 'scim-token') return true;
  return access !== null && scopes.includes(access);
}
