import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_EVENT_ROUTE_ACCESS } from '../../src/audit/routes/audit-event-routes.js';
import { AUDIT_LOG_ROUTE_ACCESS } from '../../src/audit/routes/audit-log-routes.js';
import { type RouteAccessTable, routeAccess, routeAccessTable } from '../../src/auth/route-access.js';
import { BREAKGLASS_ROUTE_ACCESS } from '../../src/breakglass/breakglass-routes.js';
import { CATALOG_ROUTE_ACCESS } from '../../src/catalog/catalog-routes.js';
import { CONVERSION_ROUTE_ACCESS } from '../../src/conversion/conversion-routes.js';
import { staticScimToken } from '../../src/directory/scim-auth.js';
import { SCIM_ROUTE_ACCESS } from '../../src/directory/scim-routes.js';
import { createScimService } from '../../src/directory/scim-service.js';
import { SCOPES } from '../../src/domain/scopes.js';
import { EVIDENCE_ROUTE_ACCESS } from '../../src/evidence/evidence-routes.js';
import { AUTH_ROUTE_ACCESS } from '../../src/identity/routes/auth-routes.js';
import { TOKEN_ROUTE_ACCESS } from '../../src/identity/routes/token-routes.js';
import { METRICS_ROUTE_ACCESS } from '../../src/metrics/metrics-routes.js';
import { MFA_ROUTE_ACCESS } from '../../src/mfa/mfa-routes.js';
import { NOTIFY_ROUTE_ACCESS } from '../../src/notify/notify-routes.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import { SESSION_REVIEW_ROUTE_ACCESS } from '../../src/recording/session-review/review-routes.js';
import { REPORT_ROUTE_ACCESS } from '../../src/report/report-routes.js';
import { REQUEST_ROUTE_ACCESS } from '../../src/requests/request-routes.js';
import { registerAuthentication } from '../../src/server/authenticate.js';
import { SERVER_ROUTE_ACCESS } from '../../src/server/http-app.js';
import { PORTAL_PAGES, PORTAL_ROUTE_ACCESS } from '../../src/server/routes/portal-routes.js';
import { testIdentityConfig } from '../identity/fixtures.js';
import { startIdp, type TestIdp } from '../identity/idp.js';
import { fixturePortal } from '../portal/support/fixture-portal.js';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';
import { TEST_POLICY } from '../support/test-policy.js';

const SCIM_TOKEN = 'authz-test-scim-token-0123456789abcdef0123';

/**
 * Walks every route of the API against every kind of actor. A route added without a row here fails the
 * completeness check, so authorization cannot be forgotten.
 *
 * alice: requester · carol: her manager (the approver) · bob: teammate, not an approver of a manager-tier request ·
 * sam: security · erin: auditor · root: admin · mallory: unrelated · anon: no token · scim: the provisioning
 * IdP's STINT_SCIM_TOKEN. The routes walked are Fastify's own route table, SCIM and sign-in included.
 */
type Actor = 'alice' | 'carol' | 'bob' | 'sam' | 'erin' | 'root' | 'mallory' | 'anon' | 'scim';
type Fixture = 'none' | 'pending' | 'active' | 'token' | 'reset';

interface Row {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS' | 'TRACE' | 'QUERY';
  route: string;
  fixture: Fixture;
  path: (id: string) => string;
  body?: unknown;
  expect: Record<Actor, number>;
}

const everyone = (status: number, anon = 401): Record<Actor, number> => ({
  alice: status,
  carol: status,
  bob: status,
  sam: status,
  erin: status,
  root: status,
  mallory: status,
  anon,
  // The provisioning token is no user credential: it is refused wherever a user is.
  scim: anon,
});

const auditors = (status: number): Record<Actor, number> => ({
  alice: 403,
  carol: 403,
  bob: 403,
  mallory: 403,
  sam: status,
  erin: status,
  root: status,
  anon: 401,
  scim: 401,
});

const MATRIX: Row[] = [
  { method: 'GET', route: '/', fixture: 'none', path: () => '/', expect: everyone(200, 200) },
  { method: 'GET', route: '/healthz', fixture: 'none', path: () => '/healthz', expect: everyone(200, 200) },
  { method: 'GET', route: '/readyz', fixture: 'none', path: () => '/readyz', expect: everyone(200, 200) },
  {
    method: 'GET',
    route: '/openapi.json',
    fixture: 'none',
    path: () => '/openapi.json',
    expect: everyone(200, 200),
  },
  { method: 'GET', route: '/v1/whoami', fixture: 'none', path: () => '/v1/whoami', expect: everyone(200) },
  {
    method: 'GET',
    route: '/v1/resources',
    fixture: 'none',
    path: () => '/v1/resources',
    expect: everyone(200),
  },
  {
    method: 'POST',
    route: '/v1/requests',
    fixture: 'none',
    path: () => '/v1/requests',
    body: { resource: 'prod-db', role: 'admin', reason: 'INC-1' },
    // Who may ask is the policy's rule: only the payments team.
    expect: {
      alice: 201,
      bob: 201,
      carol: 403,
      sam: 403,
      erin: 403,
      root: 403,
      mallory: 403,
      anon: 401,
      scim: 401,
    },
  },
  {
    method: 'GET',
    route: '/v1/requests',
    fixture: 'none',
    path: () => '/v1/requests?scope=all',
    expect: {
      alice: 403,
      carol: 403,
      bob: 403,
      sam: 200,
      erin: 200,
      root: 200,
      mallory: 403,
      anon: 401,
      scim: 401,
    },
  },
  // Everyone lists their own requests and those waiting for them; scoped tokens need requests:read for both.
  {
    method: 'GET',
    route: '/v1/requests',
    fixture: 'none',
    path: () => '/v1/requests',
    expect: everyone(200),
  },
  {
    method: 'GET',
    route: '/v1/requests',
    fixture: 'none',
    path: () => '/v1/requests?scope=to-approve',
    expect: everyone(200),
  },
  {
    method: 'GET',
    route: '/v1/requests/:id',
    fixture: 'pending',
    path: (id) => `/v1/requests/${id}`,
    expect: {
      alice: 200,
      carol: 200,
      bob: 404,
      sam: 200,
      erin: 200,
      root: 200,
      mallory: 404,
      anon: 401,
      scim: 401,
    },
  },
  {
    method: 'POST',
    route: '/v1/requests/:id/approve',
    fixture: 'pending',
    path: (id) => `/v1/requests/${id}/approve`,
    body: {},
    expect: {
      alice: 403,
      carol: 200,
      bob: 404,
      sam: 403,
      erin: 403,
      root: 403,
      mallory: 404,
      anon: 401,
      scim: 401,
    },
  },
  {
    method: 'POST',
    route: '/v1/requests/:id/deny',
    fixture: 'pending',
    path: (id) => `/v1/requests/${id}/deny`,
    body: {},
    expect: {
      alice: 403,
      carol: 200,
      bob: 404,
      sam: 403,
      erin: 403,
      root: 403,
      mallory: 404,
      anon: 401,
      scim: 401,
    },
  },
  {
    method: 'POST',
    route: '/v1/requests/:id/withdraw',
    fixture: 'pending',
    path: (id) => `/v1/requests/${id}/withdraw`,
    body: {},
    expect: {
      alice: 200,
      carol: 403,
      bob: 404,
      sam: 403,
      erin: 403,
      root: 403,
      mallory: 404,
      anon: 401,
      scim: 401,
    },
  },
  {
    method: 'POST',
    route: '/v1/requests/:id/revoke',
    fixture: 'active',
    path: (id) => `/v1/requests/${id}/revoke`,
    body: {},
    expect: {
      alice: 200,
      carol: 200,
      bob: 404,
      sam: 200,
      erin: 403,
      root: 200,
      mallory: 404,
      anon: 401,
      scim: 401,
    },
  },
  {
    method: 'POST',
    route: '/v1/requests/:id/credentials',
    fixture: 'active',
    path: (id) => `/v1/requests/${id}/credentials`,
    // Credentials go to the requester alone: not the approver, security, the auditor or an admin.
    expect: {
      alice: 200,
      carol: 403,
      bob: 404,
      sam: 403,
      erin: 403,
      root: 403,
      mallory: 404,
      anon: 401,
      scim: 401,
    },
  },
  {
    method: 'GET',
    route: '/v1/audit/events',
    fixture: 'pending',
    path: (id) => `/v1/audit/events?request=${id}`,
    expect: {
      alice: 200,
      carol: 200,
      bob: 404,
      sam: 200,
      erin: 200,
      root: 200,
      mallory: 404,
      anon: 401,
      scim: 401,
    },
  },
  // Without a request: one's own events (everyone's for security, auditors and admins).
  {
    method: 'GET',
    route: '/v1/audit/events',
    fixture: 'none',
    path: () => '/v1/audit/events',
    expect: everyone(200),
  },
  // The audit log: checkpoints, keys and consistency proofs are public (hashes only, for witnesses).
  {
    method: 'GET',
    route: '/audit/checkpoint',
    fixture: 'none',
    path: () => '/audit/checkpoint',
    expect: everyone(200, 200),
  },
  {
    method: 'GET',
    route: '/v1/audit/key',
    fixture: 'none',
    path: () => '/v1/audit/key',
    expect: everyone(200, 200),
  },
  {
    method: 'GET',
    route: '/v1/audit/checkpoints',
    fixture: 'none',
    path: () => '/v1/audit/checkpoints',
    expect: everyone(200, 200),
  },
  {
    method: 'GET',
    route: '/v1/audit/proof/consistency',
    fixture: 'none',
    path: () => '/v1/audit/proof/consistency?old=1&new=2',
    expect: everyone(200, 200),
  },
  {
    method: 'POST',
    route: '/v1/audit/checkpoints',
    fixture: 'none',
    path: () => '/v1/audit/checkpoints',
    body: { size: 1 },
    expect: auditors(200),
  },
  {
    method: 'GET',
    route: '/v1/audit/leaves',
    fixture: 'none',
    path: () => '/v1/audit/leaves',
    expect: auditors(200),
  },
  {
    method: 'GET',
    route: '/v1/audit/range',
    fixture: 'none',
    path: () => '/v1/audit/range?since=2020-01-01&until=2100-01-01',
    expect: auditors(200),
  },
  {
    method: 'GET',
    route: '/v1/audit/frontier',
    fixture: 'none',
    path: () => '/v1/audit/frontier?size=2',
    expect: auditors(200),
  },
  {
    method: 'GET',
    route: '/v1/audit/proof/inclusion',
    fixture: 'none',
    path: () => '/v1/audit/proof/inclusion?seq=0',
    expect: auditors(200),
  },
  {
    method: 'POST',
    route: '/v1/audit/verify',
    fixture: 'none',
    path: () => '/v1/audit/verify',
    expect: auditors(200),
  },
];

// Notifications: deliveries are for security and admins, who answer for the alerts; an acknowledgement is public,
// its token the credential, so a made-up one is refused for everyone alike.
MATRIX.push(
  {
    method: 'GET',
    route: '/v1/notifications/deliveries',
    fixture: 'none',
    path: () => '/v1/notifications/deliveries',
    expect: { ...everyone(403), sam: 200, root: 200, anon: 401, scim: 401 },
  },
  {
    method: 'POST',
    route: '/v1/notifications/deliveries/:id/ack',
    fixture: 'none',
    path: () => `/v1/notifications/deliveries/dlv_${'0'.repeat(32)}/ack`,
    body: { token: 'ack_not-the-token' },
    expect: everyone(403, 403),
  },
);

// Operations: metrics, the access report and the evidence pack's own routes, for security, auditors and admins.
MATRIX.push(
  { method: 'GET', route: '/metrics', fixture: 'none', path: () => '/metrics', expect: auditors(200) },
  {
    method: 'GET',
    route: '/v1/report',
    fixture: 'none',
    path: () => '/v1/report?period=2026-Q3',
    expect: auditors(200),
  },
  {
    method: 'GET',
    route: '/v1/evidence/policy',
    fixture: 'none',
    path: () => '/v1/evidence/policy',
    expect: auditors(200),
  },
  {
    method: 'GET',
    route: '/v1/evidence/range',
    fixture: 'none',
    path: () => '/v1/evidence/range?period=2026-Q3',
    expect: auditors(200),
  },
);

// The standing-access conversion (src/conversion): reads for security, auditors and admins; changes for security
// and admins only (an auditor reads, never changes a target). No conversion exists: a step answers 404 to those
// who may take it. Planning a grant the target does not list is refused (400) after the role check.
const NO_CONVERSION = `conv_${'0'.repeat(16)}`;
const wardens = (status: number): Record<Actor, number> => ({ ...auditors(status), erin: 403 });
MATRIX.push(
  {
    method: 'GET',
    route: '/v1/inventory',
    fixture: 'none',
    path: () => '/v1/inventory',
    expect: auditors(200),
  },
  {
    method: 'GET',
    route: '/v1/conversions',
    fixture: 'none',
    path: () => '/v1/conversions?quarter=2026-Q4',
    expect: auditors(200),
  },
  {
    method: 'POST',
    route: '/v1/conversions',
    fixture: 'none',
    path: () => '/v1/conversions',
    body: {
      resource: 'prod-db',
      principal: 'no_such_role',
      privilege: 'member of app_admin',
      jitRole: 'admin',
      quarter: '2026-Q4',
    },
    expect: wardens(400),
  },
  {
    method: 'GET',
    route: '/v1/conversions/:id',
    fixture: 'none',
    path: () => `/v1/conversions/${NO_CONVERSION}`,
    expect: auditors(404),
  },
  ...(['entitled', 'removed', 'done'] as const).map(
    (step): Row => ({
      method: 'POST',
      route: `/v1/conversions/:id/${step}`,
      fixture: 'none',
      path: () => `/v1/conversions/${NO_CONVERSION}/${step}`,
      expect: wardens(404),
    }),
  ),
  {
    method: 'POST',
    route: '/v1/conversions/:id/abandon',
    fixture: 'none',
    path: () => `/v1/conversions/${NO_CONVERSION}/abandon`,
    body: { reason: 'not this quarter' },
    expect: wardens(404),
  },
  {
    method: 'GET',
    route: '/v1/conversion/report',
    fixture: 'none',
    path: () => '/v1/conversion/report?quarter=2026-Q4',
    expect: auditors(200),
  },
);

// Sessions and API tokens: everyone manages their own; an admin revokes anyone's; another's is "not found".
MATRIX.push(
  {
    method: 'GET',
    route: '/auth/session',
    fixture: 'none',
    path: () => '/auth/session',
    expect: everyone(200),
  },
  {
    method: 'POST',
    route: '/auth/logout',
    fixture: 'none',
    path: () => '/auth/logout',
    expect: everyone(204),
  },
  { method: 'GET', route: '/v1/tokens', fixture: 'none', path: () => '/v1/tokens', expect: everyone(200) },
  {
    method: 'GET',
    route: '/v1/tokens',
    fixture: 'none',
    path: () => '/v1/tokens?all=true',
    expect: {
      alice: 403,
      carol: 403,
      bob: 403,
      sam: 403,
      erin: 403,
      root: 200,
      mallory: 403,
      anon: 401,
      scim: 401,
    },
  },
  {
    method: 'POST',
    route: '/v1/tokens',
    fixture: 'none',
    path: () => '/v1/tokens',
    body: { name: 'ci', scopes: ['requests:read'], expiresInDays: 30 },
    expect: everyone(201),
  },
  {
    method: 'DELETE',
    route: '/v1/tokens/:id',
    fixture: 'token',
    path: (id) => `/v1/tokens/${id}`,
    expect: {
      alice: 200,
      carol: 404,
      bob: 404,
      sam: 404,
      erin: 404,
      root: 200,
      mallory: 404,
      anon: 401,
      scim: 401,
    },
  },
);

// Second factors: every signed-in person manages their own, nobody else's. The matrix calls with API tokens, and
// factors are enrolled in a sign-in session only (SESSION_REQUIRED); a wrong step-up code is refused.
const mfaRows: Row[] = [
  { method: 'GET', route: '/v1/mfa', fixture: 'none', path: () => '/v1/mfa', expect: everyone(200) },
  {
    method: 'POST',
    route: '/v1/mfa/totp/enroll',
    fixture: 'none',
    path: () => '/v1/mfa/totp/enroll',
    expect: everyone(403),
  },
  {
    method: 'POST',
    route: '/v1/mfa/totp/confirm',
    fixture: 'none',
    path: () => '/v1/mfa/totp/confirm',
    body: { code: '000000' },
    expect: everyone(403),
  },
  {
    method: 'POST',
    route: '/v1/mfa/verify',
    fixture: 'none',
    path: () => '/v1/mfa/verify',
    body: { method: 'totp', code: '000000' },
    expect: everyone(400),
  },
  ...(['register/options', 'register/verify', 'authenticate/options', 'authenticate/verify'] as const).map(
    (step): Row => ({
      method: 'POST',
      route: `/v1/mfa/webauthn/${step}`,
      fixture: 'none',
      path: () => `/v1/mfa/webauthn/${step}`,
      // The options routes take no body (any body is refused with 400).
      ...(step.endsWith('verify') ? { body: { response: {} } } : {}),
      // WebAuthn is not configured in the harness: a clear 400 naming the setting, after authentication.
      expect: everyone(400),
    }),
  ),
];
// Someone else's factors (a lost authenticator): an admin asks, a second person from security confirms.
mfaRows.push(
  {
    method: 'POST',
    route: '/v1/mfa/resets',
    fixture: 'none',
    path: () => '/v1/mfa/resets',
    body: { user: 'dave', reason: 'lost phone' },
    expect: { ...everyone(403), root: 201 },
  },
  {
    method: 'POST',
    route: '/v1/mfa/resets/:id/confirm',
    fixture: 'reset',
    path: (id) => `/v1/mfa/resets/${id}/confirm`,
    // root asked for it (SELF_APPROVAL); only security confirms.
    expect: { ...everyone(403), sam: 200 },
  },
);
MATRIX.push(...mfaRows);

// Break-glass (src/breakglass). The policy here has no breakglass block and no seal exists, so nobody may invoke,
// drill or unseal (403 NOT_ELIGIBLE, 404): the refusals come after authentication and the scope gate; reads answer
// each caller with what they may see. Sealing is for security and admins (400 here: the scope is unknown).
const NO_SUCH = {
  unseal: `unseal_${'0'.repeat(32)}`,
  postmortem: `pm_${'0'.repeat(16)}`,
  drill: `drill_${'0'.repeat(16)}`,
};
MATRIX.push(
  {
    method: 'POST',
    route: '/v1/breakglass',
    fixture: 'none',
    path: () => '/v1/breakglass',
    body: { resource: 'prod-db', role: 'admin', reason: 'INC-1' },
    expect: everyone(403),
  },
  {
    method: 'GET',
    route: '/v1/breakglass',
    fixture: 'none',
    path: () => '/v1/breakglass',
    expect: everyone(200),
  },
  {
    method: 'POST',
    route: '/v1/breakglass/seals',
    fixture: 'none',
    path: () => '/v1/breakglass/seals',
    body: {
      id: `seal_${'1'.repeat(16)}`,
      scope: 'no-such-resource',
      label: 'x',
      threshold: 2,
      officers: [
        { user: 'sam', commitment: 'a'.repeat(64) },
        { user: 'dave', commitment: 'b'.repeat(64) },
      ],
      sealed: 'v1.x.y.z',
      recordKey: 'x',
    },
    expect: { ...everyone(403), sam: 400, root: 400 },
  },
  {
    method: 'GET',
    route: '/v1/breakglass/seals',
    fixture: 'none',
    path: () => '/v1/breakglass/seals',
    expect: everyone(200),
  },
  {
    method: 'POST',
    route: '/v1/breakglass/unseal',
    fixture: 'none',
    path: () => '/v1/breakglass/unseal',
    body: { scope: 'prod-db', reason: 'IdP down' },
    expect: everyone(404),
  },
  {
    method: 'GET',
    route: '/v1/breakglass/unseal',
    fixture: 'none',
    path: () => '/v1/breakglass/unseal',
    expect: everyone(200),
  },
  {
    method: 'POST',
    route: '/v1/breakglass/unseal/:id/shares',
    fixture: 'none',
    path: () => `/v1/breakglass/unseal/${NO_SUCH.unseal}/shares`,
    body: { share: 'stint-share-v1:x' },
    expect: everyone(404),
  },
  {
    method: 'POST',
    route: '/v1/breakglass/unseal/:id/secret',
    fixture: 'none',
    path: () => `/v1/breakglass/unseal/${NO_SUCH.unseal}/secret`,
    expect: everyone(404),
  },
  {
    method: 'GET',
    route: '/v1/breakglass/postmortems',
    fixture: 'none',
    path: () => '/v1/breakglass/postmortems',
    expect: everyone(200),
  },
  {
    method: 'GET',
    route: '/v1/breakglass/postmortems/:id',
    fixture: 'none',
    path: () => `/v1/breakglass/postmortems/${NO_SUCH.postmortem}`,
    expect: everyone(404),
  },
  {
    method: 'POST',
    route: '/v1/breakglass/postmortems/:id',
    fixture: 'none',
    path: () => `/v1/breakglass/postmortems/${NO_SUCH.postmortem}`,
    body: { classification: 'drill' },
    expect: everyone(404),
  },
  {
    method: 'POST',
    route: '/v1/breakglass/postmortems/:id/close',
    fixture: 'none',
    path: () => `/v1/breakglass/postmortems/${NO_SUCH.postmortem}/close`,
    expect: everyone(404),
  },
  {
    method: 'POST',
    route: '/v1/breakglass/drills',
    fixture: 'none',
    path: () => '/v1/breakglass/drills',
    body: { resource: 'prod-db' },
    expect: everyone(403),
  },
  {
    method: 'GET',
    route: '/v1/breakglass/drills',
    fixture: 'none',
    path: () => '/v1/breakglass/drills',
    expect: everyone(200),
  },
  {
    method: 'GET',
    route: '/v1/breakglass/drills/:id',
    fixture: 'none',
    path: () => `/v1/breakglass/drills/${NO_SUCH.drill}`,
    expect: everyone(404),
  },
);

// Sign-in (a real OIDC provider): public, each answering for itself; a bad sign-in is a 401 with a code.
MATRIX.push(
  {
    method: 'GET',
    route: '/v1/auth/config',
    fixture: 'none',
    path: () => '/v1/auth/config',
    expect: everyone(200, 200),
  },
  {
    method: 'GET',
    route: '/auth/login',
    fixture: 'none',
    path: () => '/auth/login',
    expect: everyone(302, 302),
  },
  {
    method: 'GET',
    route: '/auth/callback',
    fixture: 'none',
    path: () => '/auth/callback?code=x&state=y',
    expect: everyone(401, 401),
  },
  {
    method: 'POST',
    route: '/v1/auth/token',
    fixture: 'none',
    path: () => '/v1/auth/token',
    body: { id_token: 'not-a-token' },
    expect: everyone(401, 401),
  },
);

// SCIM provisioning: the IdP's token only; no user credential, however powerful, is accepted there.
const scimOnly = (status: number): Record<Actor, number> => ({ ...everyone(401), scim: status });
const scimUser = {
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
  userName: 'zed',
  emails: [{ value: 'zed@example.com', primary: true }],
};
const scimGroup = { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'g' };
const patchOf = (path: string, value: unknown) => ({
  schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
  Operations: [{ op: 'replace', path, value }],
});
for (const [method, route, status, body] of [
  ['GET', '/scim/v2/ServiceProviderConfig', 200],
  ['GET', '/scim/v2/Schemas', 200],
  ['GET', '/scim/v2/Schemas/:id', 404],
  ['GET', '/scim/v2/ResourceTypes', 200],
  ['GET', '/scim/v2/ResourceTypes/:id', 404],
  ['POST', '/scim/v2/Users', 201, scimUser],
  ['GET', '/scim/v2/Users', 200],
  ['GET', '/scim/v2/Users/:id', 404],
  ['PUT', '/scim/v2/Users/:id', 404, scimUser],
  ['PATCH', '/scim/v2/Users/:id', 404, patchOf('active', false)],
  ['DELETE', '/scim/v2/Users/:id', 404],
  ['POST', '/scim/v2/Groups', 201, scimGroup],
  ['GET', '/scim/v2/Groups', 200],
  ['GET', '/scim/v2/Groups/:id', 404],
  ['PUT', '/scim/v2/Groups/:id', 404, scimGroup],
  ['PATCH', '/scim/v2/Groups/:id', 404, patchOf('displayName', 'h')],
  ['DELETE', '/scim/v2/Groups/:id', 404],
  ['POST', '/scim/v2/Bulk', 501, { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'] }],
  // Every other path under /scim/v2, whatever the method, is the IdP's too: a SCIM 404 behind its token.
  ...(['GET', 'TRACE', 'DELETE', 'OPTIONS', 'PATCH', 'PUT', 'POST', 'QUERY'] as const).map(
    (method) => [method, '/scim/v2/*', 404] as const,
  ),
] as const) {
  MATRIX.push({
    method,
    route,
    fixture: 'none',
    path: () => route.replace(':id', 'no-such-id').replace('*', 'NoSuchEndpoint'),
    ...(body === undefined ? {} : { body }),
    expect: scimOnly(status),
  });
}

// The portal: its shell at each page and its built files are public (they carry no data; the API decides).
MATRIX.push(
  ...PORTAL_PAGES.map((page) => ({
    method: 'GET' as const,
    route: page,
    fixture: 'none' as const,
    path: () => page,
    expect: everyone(200, 200),
  })),
  {
    method: 'GET',
    route: '/assets/*',
    fixture: 'none',
    path: () => '/assets/app-1234.js',
    expect: everyone(200, 200),
  },
  {
    method: 'GET',
    route: '/v1/requests/preview',
    fixture: 'none',
    path: () => '/v1/requests/preview?resource=prod-db&role=admin&reason=INC-1',
    // What POST /v1/requests would decide, with nothing made: only the payments team may ask.
    expect: {
      alice: 200,
      bob: 200,
      carol: 403,
      sam: 403,
      erin: 403,
      root: 403,
      mallory: 403,
      anon: 401,
      scim: 401,
    },
  },
);

// Recorded sessions and the session review queue: security and auditors watch and judge; nobody else, admins
// included (a recording can show what a credential cannot be read for). Unknown ids answer 404 to them alone.
const watchers = (status: number): Record<Actor, number> => ({
  alice: 403,
  carol: 403,
  bob: 403,
  mallory: 403,
  root: 403,
  sam: status,
  erin: status,
  anon: 401,
  scim: 401,
});
MATRIX.push(
  {
    method: 'GET',
    route: '/v1/recorded-sessions',
    fixture: 'none',
    path: () => '/v1/recorded-sessions',
    expect: watchers(200),
  },
  {
    method: 'GET',
    route: '/v1/recorded-sessions/:id',
    fixture: 'none',
    path: () => '/v1/recorded-sessions/ses_nosuchsession0',
    expect: watchers(404),
  },
  {
    method: 'GET',
    route: '/v1/recordings/:id/cast',
    fixture: 'none',
    path: () => '/v1/recordings/rec_nosuchrecording/cast',
    expect: watchers(404),
  },
  {
    method: 'GET',
    route: '/v1/session-reviews',
    fixture: 'none',
    path: () => '/v1/session-reviews',
    expect: watchers(200),
  },
  {
    method: 'POST',
    route: '/v1/session-reviews/:id/verdict',
    fixture: 'none',
    path: () => '/v1/session-reviews/ses_nosuchsession0/verdict',
    body: { verdict: 'ok' },
    expect: watchers(404),
  },
  {
    method: 'POST',
    route: '/v1/session-reviews/:id/claim',
    fixture: 'none',
    path: () => '/v1/session-reviews/ses_nosuchsession0/claim',
    expect: watchers(404),
  },
  {
    method: 'POST',
    route: '/v1/session-reviews/:id/release',
    fixture: 'none',
    path: () => '/v1/session-reviews/ses_nosuchsession0/release',
    expect: watchers(404),
  },
);

const COLUMNS: [Actor, string][] = [
  ['alice', 'requester'],
  ['carol', 'approver (her manager)'],
  ['bob', 'teammate, not an approver'],
  ['sam', 'security'],
  ['erin', 'auditor'],
  ['root', 'admin'],
  ['mallory', 'unrelated user'],
  ['anon', 'no credential'],
  ['scim', 'SCIM provisioning token'],
];

/**
 * The route-access table as the server composes it (its own rows and every module's), known before any app is
 * built because the tests below are generated from it; a test checks it is exactly the running server's.
 */
const ACCESS: RouteAccessTable = routeAccessTable([
  SERVER_ROUTE_ACCESS,
  PORTAL_ROUTE_ACCESS,
  AUDIT_EVENT_ROUTE_ACCESS,
  AUDIT_LOG_ROUTE_ACCESS,
  MFA_ROUTE_ACCESS,
  REQUEST_ROUTE_ACCESS,
  CATALOG_ROUTE_ACCESS,
  AUTH_ROUTE_ACCESS,
  TOKEN_ROUTE_ACCESS,
  REPORT_ROUTE_ACCESS,
  EVIDENCE_ROUTE_ACCESS,
  METRICS_ROUTE_ACCESS,
  SCIM_ROUTE_ACCESS,
  BREAKGLASS_ROUTE_ACCESS,
  NOTIFY_ROUTE_ACCESS,
  CONVERSION_ROUTE_ACCESS,
  SESSION_REVIEW_ROUTE_ACCESS,
]);

/** The route-access row of `METHOD /url` (a wildcard row counts). */
const accessOf = (route: string) => {
  const [method = '', url = ''] = route.split(' ');
  return routeAccess(ACCESS, method, url);
};

const accessLabel = (route: string) => {
  const access = accessOf(route);
  return access === null ? 'no scoped token' : access === undefined ? '(no row)' : access;
};

/** docs/authorization.md is generated from MATRIX and the route table, which this file walks cell by cell. */
function renderAuthorizationDoc(): string {
  const head = [
    '# Authorization: route × role',
    '',
    "Generated from `test/server/authorization.test.ts`, which calls every route of the server (Fastify's own route",
    'table, sign-in and SCIM included) as every kind of caller, on SQLite and on PostgreSQL, and asserts each status',
    'below (regenerate: `STINT_WRITE_DOCS=1 npx vitest run test/server/authorization.test.ts`). 2xx allowed; 302 a',
    'redirect to the identity provider; 401 no or bad credential; 403 refused (the code says why: FORBIDDEN,',
    'NOT_AN_APPROVER, SELF_APPROVAL, NOT_ELIGIBLE, SESSION_REQUIRED …); 404 outside your scope (answered as not found);',
    '400 and 409 are allowed calls refused for their input or state. Approving sensitive or critical access also',
    'needs a fresh second factor.',
    '',
    "The **scope** column is the route's row in the route-access table (each module declares its routes' rows beside",
    'them; every route must have one or the server does not start): a scoped API token may call the route only if it carries that scope;',
    '"any" takes any valid credential; "no scoped token" takes a person (a sign-in session) or a full-power token;',
    '"public" and "scim-token" take no user credential. The test also calls every route with a token of each scope.',
    '',
    `| route | scope | ${COLUMNS.map(([, label]) => label).join(' | ')} |`,
    `| --- | --- | ${COLUMNS.map(() => '---').join(' | ')} |`,
  ];
  const rows = MATRIX.map(
    (r) =>
      `| \`${r.method} ${r.route}\` | ${accessLabel(`${r.method} ${r.route}`)} | ${COLUMNS.map(([a]) => r.expect[a]).join(' | ')} |`,
  );
  return `${[...head, ...rows].join('\n')}\n`;
}

const inAMonth = () => new Date(Date.now() + 30 * 86_400_000);

it('docs/authorization.md is the table this test walks', () => {
  const doc = renderAuthorizationDoc();
  const file = fileURLToPath(new URL('../../docs/authorization.md', import.meta.url));
  if (process.env.STINT_WRITE_DOCS === '1') writeFileSync(file, doc);
  expect(readFileSync(file, 'utf8')).toBe(doc);
});

describe('the route table is the only way in', () => {
  const bare = () => {
    const app = Fastify();
    registerAuthentication(app, {
      access: routeAccessTable([{ 'GET /v1/whoami': 'any' }]),
      tokens: { check: async () => ({ ok: false, reason: 'unknown', id: null, userId: null }) },
      policy: { current: () => parsePolicy(TEST_POLICY, 'test-policy.yaml') },
      clock: () => new Date(),
    });
    return app;
  };

  it('a route without a row stops the server at boot', async () => {
    const app = bare();
    expect(() => app.get('/v1/forgotten', async () => 'open')).toThrow(
      /GET \/v1\/forgotten has no access row/,
    );
    await app.close();
  });

  it('a public flag the table does not agree with stops the server at boot', async () => {
    const app = bare();
    expect(() => app.get('/v1/whoami', { config: { public: true } }, async () => 'open')).toThrow(
      /config.public disagrees/,
    );
    await app.close();
  });
});

describe.each(STORE_KINDS)('authorization of every route on %s', (kind) => {
  let h: Harness;
  let idp: TestIdp;
  let portal: ReturnType<typeof fixturePortal> | undefined;
  beforeAll(async () => {
    idp = await startIdp();
    portal = fixturePortal();
    h = await createHarness(kind, {
      portal: portal.portal,
      identity: {
        config: testIdentityConfig(idp, {
          // Every call comes from one address here: the refused sign-ins this walk makes must not lock it.
          STINT_AUTH_LOCKOUT_THRESHOLD: '100000',
          STINT_AUTH_RATE_LIMIT: '100000',
        }),
      },
      scim: (store, audit) => ({
        service: createScimService({
          store,
          audit,
          clock: () => new Date(),
          onChange: async () => undefined,
        }),
        authenticate: staticScimToken(SCIM_TOKEN),
      }),
    });
    // A few events and a signed checkpoint, so the audit-log routes have something to serve.
    await h.as('alice').postSettled('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-1' });
    await h.as('alice').postSettled('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-2' });
    await h.stint.audit.log.build({ checkpoint: true });
  });
  afterAll(async () => {
    await h?.close();
    await idp?.close();
    portal?.remove();
  });

  async function fixture(needed: Fixture): Promise<string> {
    if (needed === 'none') return '';
    if (needed === 'reset') {
      const made = await h.as('root').post('/v1/mfa/resets', { user: 'dave', reason: 'lost phone' });
      expect(made.status).toBe(201);
      return made.body.id;
    }
    if (needed === 'token') {
      const made = await h
        .as('alice')
        .post('/v1/tokens', { name: 'ci', scopes: ['requests:read'], expiresInDays: 30 });
      return made.body.id;
    }
    const ask = { resource: 'prod-db', role: 'admin', reason: 'INC-42' };
    if (needed === 'active') return (await activeGrant(h, { ...ask, approvers: ['carol'] })).id;
    return (await h.as('alice').post('/v1/requests', ask)).body.id;
  }

  const call = (row: Row, id: string, bearer: string | null) =>
    h.app.inject({
      method: row.method,
      url: row.path(id),
      headers: bearer === null ? {} : { authorization: `Bearer ${bearer}` },
      ...(row.body === undefined ? {} : { payload: row.body as object }),
    });

  it("the table walked here is the running server's route-access table", () => {
    expect(h.app.routeAccess).toEqual(ACCESS);
  });

  it("the matrix and the route table cover every route in Fastify's own route table", () => {
    // HEAD is Fastify's automatic twin of a GET, answered by the same handler and row (the table leaves it out).
    const routes = h.app.routeTable.map((r) => `${r.method} ${r.url}`);
    expect(routes.length).toBeGreaterThan(50);
    expect(routes).toContain('GET /scim/v2/Users/:id');
    expect(routes).toContain('GET /auth/callback');
    const covered = new Set(MATRIX.map((r) => `${r.method} ${r.route}`));
    for (const route of routes) {
      expect(covered, `no authorization row for ${route}`).toContain(route);
      expect(accessOf(route), `no route-access row for ${route}`).not.toBeUndefined();
    }
    for (const route of covered) expect(routes, `${route} is in the matrix but not served`).toContain(route);
  });

  for (const row of MATRIX) {
    for (const [actor, status] of Object.entries(row.expect) as [Actor, number][]) {
      it(`${row.method} ${row.route} as ${actor} → ${status}`, async () => {
        const id = await fixture(row.fixture);
        const bearer = actor === 'anon' ? null : actor === 'scim' ? SCIM_TOKEN : (h.tokens[actor] as string);
        const res = await call(row, id, bearer);
        expect(res.statusCode, res.body).toBe(status);
        if (status >= 400) {
          const body = res.json();
          // SCIM answers in its own error format (RFC 7644 §3.12), everything else with a Stint code.
          if (row.route.startsWith('/scim/')) expect(body.status).toBe(String(status));
          else expect(body.error.code).toBeTypeOf('string');
        }
        if (row.fixture === 'active') await h.as('alice').post(`/v1/requests/${id}/revoke`, {});
      });
    }
  }

  // Scoped tokens: every route, called with a token of each scope by the user the matrix allows (or alice): the
  // scope gate lets exactly the route's own scope through ('any': every scope; a public route gates none). The
  // route's row is the running server's, read when each test runs (the app is built in beforeAll, after the tests
  // are collected); SCIM's routes take no user token at all.
  for (const row of MATRIX.filter((r) => !r.route.startsWith('/scim/'))) {
    const actor =
      (Object.entries(row.expect) as [Actor, number][]).find(([, s]) => s >= 200 && s < 300)?.[0] ?? 'alice';
    for (const scope of SCOPES) {
      it(`${row.method} ${row.path(':id')} with ${actor}'s ${scope} token → past the scope gate only if its row allows ${scope}`, async () => {
        const access = accessOf(`${row.method} ${row.route}`);
        expect(access, 'a route without a row').not.toBeUndefined();
        expect(access).not.toBe('scim-token');
        const passes = access === 'any' || access === 'public' || access === scope;
        const id = await fixture(row.fixture);
        const { token } = await h.stint.identity.tokens.create(actor, 'scoped', new Date(), inAMonth(), [
          scope,
        ]);
        const res = await call(row, id, token);
        const refusedForScope = res.statusCode === 403 && res.json().error?.details?.needed !== undefined;
        expect(refusedForScope, `${res.statusCode} ${res.body}`).toBe(!passes);
        if (!passes) expect(res.json().error.code).toBe('FORBIDDEN');
        if (row.fixture === 'active') await h.as('alice').post(`/v1/requests/${id}/revoke`, {});
      });
    }
  }
});
