import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../support/harness.js';

/**
 * Walks every route of the API against every kind of actor. A route added without a row here fails the
 * completeness check, so authorization cannot be forgotten.
 *
 * alice: requester · carol: her manager (the approver) · bob: teammate, not an approver of a manager-tier request ·
 * sam: security · erin: auditor · root: admin · mallory: unrelated · anon: no token.
 */
type Actor = 'alice' | 'carol' | 'bob' | 'sam' | 'erin' | 'root' | 'mallory' | 'anon';
type Fixture = 'none' | 'pending' | 'active' | 'token';

interface Row {
  method: 'GET' | 'POST' | 'DELETE';
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
});

const MATRIX: Row[] = [
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
    expect: { alice: 201, bob: 201, carol: 403, sam: 403, erin: 403, root: 403, mallory: 403, anon: 401 },
  },
  {
    method: 'GET',
    route: '/v1/requests',
    fixture: 'none',
    path: () => '/v1/requests?scope=all',
    expect: { alice: 403, carol: 403, bob: 403, sam: 200, erin: 200, root: 200, mallory: 403, anon: 401 },
  },
  {
    method: 'GET',
    route: '/v1/requests/:id',
    fixture: 'pending',
    path: (id) => `/v1/requests/${id}`,
    expect: { alice: 200, carol: 200, bob: 404, sam: 200, erin: 200, root: 200, mallory: 404, anon: 401 },
  },
  {
    method: 'POST',
    route: '/v1/requests/:id/approve',
    fixture: 'pending',
    path: (id) => `/v1/requests/${id}/approve`,
    body: {},
    expect: { alice: 403, carol: 200, bob: 404, sam: 403, erin: 403, root: 403, mallory: 404, anon: 401 },
  },
  {
    method: 'POST',
    route: '/v1/requests/:id/deny',
    fixture: 'pending',
    path: (id) => `/v1/requests/${id}/deny`,
    body: {},
    expect: { alice: 403, carol: 200, bob: 404, sam: 403, erin: 403, root: 403, mallory: 404, anon: 401 },
  },
  {
    method: 'POST',
    route: '/v1/requests/:id/withdraw',
    fixture: 'pending',
    path: (id) => `/v1/requests/${id}/withdraw`,
    body: {},
    expect: { alice: 200, carol: 403, bob: 404, sam: 403, erin: 403, root: 403, mallory: 404, anon: 401 },
  },
  {
    method: 'POST',
    route: '/v1/requests/:id/revoke',
    fixture: 'active',
    path: (id) => `/v1/requests/${id}/revoke`,
    body: {},
    expect: { alice: 200, carol: 200, bob: 404, sam: 200, erin: 403, root: 200, mallory: 404, anon: 401 },
  },
  {
    method: 'POST',
    route: '/v1/requests/:id/credentials',
    fixture: 'active',
    path: (id) => `/v1/requests/${id}/credentials`,
    // Credentials go to the requester alone: not the approver, security, the auditor or an admin.
    expect: { alice: 200, carol: 403, bob: 404, sam: 403, erin: 403, root: 403, mallory: 404, anon: 401 },
  },
  {
    method: 'GET',
    route: '/v1/audit/events',
    fixture: 'pending',
    path: (id) => `/v1/audit/events?request=${id}`,
    expect: { alice: 200, carol: 200, bob: 404, sam: 200, erin: 200, root: 200, mallory: 404, anon: 401 },
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
    expect: { alice: 403, carol: 403, bob: 403, sam: 403, erin: 403, root: 200, mallory: 403, anon: 401 },
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
    expect: { alice: 200, carol: 404, bob: 404, sam: 404, erin: 404, root: 200, mallory: 404, anon: 401 },
  },
);

// Second factors: every signed-in person manages their own, nobody else's. The harness has already enrolled and
// stepped everyone up, so enrolling again is a conflict and a wrong code is refused: never 401/403 for a user.
const mfaRows: Row[] = [
  { method: 'GET', route: '/v1/mfa', fixture: 'none', path: () => '/v1/mfa', expect: everyone(200) },
  {
    method: 'POST',
    route: '/v1/mfa/totp/enroll',
    fixture: 'none',
    path: () => '/v1/mfa/totp/enroll',
    expect: everyone(409),
  },
  {
    method: 'POST',
    route: '/v1/mfa/totp/confirm',
    fixture: 'none',
    path: () => '/v1/mfa/totp/confirm',
    body: { code: '000000' },
    expect: everyone(409),
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
MATRIX.push(...mfaRows);

const COLUMNS: [Actor, string][] = [
  ['alice', 'requester'],
  ['carol', 'approver (her manager)'],
  ['bob', 'teammate, not an approver'],
  ['sam', 'security'],
  ['erin', 'auditor'],
  ['root', 'admin'],
  ['mallory', 'unrelated user'],
  ['anon', 'no credential'],
];

/** docs/authorization.md is generated from MATRIX, the table this file walks cell by cell. */
function renderAuthorizationDoc(): string {
  const head = [
    '# Authorization: route × role',
    '',
    'Generated from `test/server/authorization.test.ts`, which calls every route as every kind of user against the',
    'running server and asserts each status below (regenerate: `STINT_WRITE_DOCS=1 npx vitest run',
    'test/server/authorization.test.ts`). 2xx allowed; 401 no or bad credential; 403 refused (the code says why:',
    'FORBIDDEN, NOT_AN_APPROVER, SELF_APPROVAL, NOT_ELIGIBLE …); 404 outside your scope (answered as not found); 400',
    'and 409 are allowed calls refused for their input or state. Scoped API tokens are further limited to their',
    'scopes (docs/identity.md); approving sensitive or critical access also needs a fresh second factor.',
    '',
    `| route | ${COLUMNS.map(([, label]) => label).join(' | ')} |`,
    `| --- | ${COLUMNS.map(() => '---').join(' | ')} |`,
  ];
  const rows = MATRIX.map(
    (r) => `| \`${r.method} ${r.route}\` | ${COLUMNS.map(([a]) => r.expect[a]).join(' | ')} |`,
  );
  return `${[...head, ...rows].join('\n')}\n`;
}

describe('authorization of every route', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('sqlite');
    // A few events and a signed checkpoint, so the audit-log routes have something to serve.
    await h.as('alice').post('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-1' });
    await h.as('alice').post('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-2' });
    await h.stint.auditLog.build({ checkpoint: true });
  });
  afterAll(async () => {
    await h?.close();
  });

  async function fixture(kind: Fixture): Promise<string> {
    if (kind === 'none') return '';
    if (kind === 'token') {
      const made = await h
        .as('alice')
        .post('/v1/tokens', { name: 'ci', scopes: ['requests:read'], expiresInDays: 30 });
      return made.body.id;
    }
    const created = await h
      .as('alice')
      .post('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-42' });
    if (kind === 'active') {
      const approved = await h.as('carol').post(`/v1/requests/${created.body.id}/approve`, {});
      expect(approved.body.state).toBe('active');
    }
    return created.body.id;
  }

  it('docs/authorization.md is the table this test walks', () => {
    const doc = renderAuthorizationDoc();
    const file = fileURLToPath(new URL('../../docs/authorization.md', import.meta.url));
    if (process.env.STINT_WRITE_DOCS === '1') writeFileSync(file, doc);
    expect(readFileSync(file, 'utf8')).toBe(doc);
  });

  it('the matrix covers every route the server has', async () => {
    const spec = (await h.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const routes = Object.entries(spec.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    const covered = new Set(MATRIX.map((r) => `${r.method} ${r.route}`));
    for (const route of routes) expect(covered, `no authorization row for ${route}`).toContain(route);
  });

  for (const row of MATRIX) {
    for (const [actor, status] of Object.entries(row.expect) as [Actor, number][]) {
      it(`${row.method} ${row.route} as ${actor} → ${status}`, async () => {
        const id = await fixture(row.fixture);
        const res = await h.app.inject({
          method: row.method,
          url: row.path(id),
          headers: actor === 'anon' ? {} : { authorization: `Bearer ${h.tokens[actor]}` },
          ...(row.body === undefined ? {} : { payload: row.body as object }),
        });
        expect(res.statusCode, res.body).toBe(status);
        if (status >= 400) expect(res.json().error.code).toBeTypeOf('string');
        if (row.fixture === 'active') await h.as('alice').post(`/v1/requests/${id}/revoke`, {});
      });
    }
  }
});
