import { Ajv } from 'ajv';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_STATUS } from '../../src/domain/errors.js';
import type { RouteEntry } from '../../src/server/route-table.js';
import type { StintDatabase } from '../../src/store/database.js';
import { createFullApp, FULL_SCIM_TOKEN, type FullApp } from '../support/full-app.js';
import { snapshot } from '../support/snapshot.js';
import { STORE_KINDS } from '../support/stores.js';
import { type BadCase, casesFor, nonObjectJson, sample } from './bad-input-cases.js';

const SCIM_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

/** Everything any route can change: requests, grants, audit, tokens, sessions, second factors, SCIM. */
async function state(store: StintDatabase) {
  const db = store.db;
  const all = async (table: 'scim_users' | 'scim_groups' | 'scim_memberships' | 'mfa_totp') =>
    db.selectFrom(table).selectAll().execute();
  const sorted = <T>(rows: T[]) => rows.map((r) => JSON.stringify(r)).sort();
  return {
    ...(await snapshot(store)),
    tokens: sorted(await db.selectFrom('api_tokens').select(['id', 'revoked_at']).execute()),
    sessions: sorted(await db.selectFrom('sessions').select(['id', 'revoked_at']).execute()),
    nonces: (await db.selectFrom('id_token_nonces').selectAll().execute()).length,
    totp: sorted(await all('mfa_totp')),
    challenges: (await db.selectFrom('webauthn_challenges').selectAll().execute()).length,
    webauthn: (await db.selectFrom('webauthn_credentials').selectAll().execute()).length,
    verifications: (await db.selectFrom('mfa_verifications').selectAll().execute()).length,
    scim: [
      sorted(await all('scim_users')),
      sorted(await all('scim_groups')),
      sorted(await all('scim_memberships')),
    ],
  };
}

type Answer = { statusCode: number; headers: Record<string, unknown>; body: string };

/** A refusal as the API promises it: 4xx, and Stint's coded error body (SCIM's error schema under /scim). */
function refusalProblem(url: string, res: Answer, authenticated = true): string | null {
  // RFC 7644 §3.7: bulk is unsupported (ServiceProviderConfig says so), whatever the request holds.
  // Only once the IdP's token is accepted: without it, SCIM's 401 comes first.
  const bulk = authenticated && url.startsWith('/scim/v2/Bulk');
  const refused = bulk ? res.statusCode === 501 : res.statusCode >= 400 && res.statusCode < 500;
  if (!refused) return `answered ${res.statusCode}: ${res.body.slice(0, 200)}`;
  let body: {
    error?: { code?: unknown; message?: unknown };
    schemas?: unknown;
    status?: unknown;
    detail?: unknown;
  };
  try {
    body = JSON.parse(res.body);
  } catch {
    return `${res.statusCode} without a JSON body: ${res.body.slice(0, 100)}`;
  }
  if (url.startsWith('/scim/')) {
    const ok =
      Array.isArray(body.schemas) &&
      body.schemas.includes(SCIM_ERROR) &&
      body.status === String(res.statusCode) &&
      typeof body.detail === 'string';
    return ok ? null : `not a SCIM error: ${res.body.slice(0, 200)}`;
  }
  const code = body.error?.code;
  if (typeof code !== 'string' || !(code in ERROR_STATUS) || typeof body.error?.message !== 'string') {
    return `no stable code: ${res.body.slice(0, 200)}`;
  }
  return null;
}

describe.each(STORE_KINDS)('bad input on every route of the route table (%s store)', (kind) => {
  let f: FullApp;
  let routes: RouteEntry[];
  let requestId: string;
  let tokenId: string;
  let scimUserId: string;
  let scimGroupId: string;

  beforeAll(async () => {
    f = await createFullApp(kind);
    routes = [...f.app.routeTable];
    requestId = (
      await f.h.as('alice').post('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-7' })
    ).body.id;
    tokenId = (
      await f.h
        .as('alice')
        .post('/v1/tokens', { name: 'victim', scopes: ['requests:read'], expiresInDays: 1 })
    ).body.id;
    const scim = async (url: string, body: unknown) =>
      (
        await f.app.inject({
          method: 'POST',
          url,
          headers: { authorization: `Bearer ${FULL_SCIM_TOKEN}`, 'content-type': 'application/scim+json' },
          payload: JSON.stringify(body),
        })
      ).json().id as string;
    scimUserId = await scim('/scim/v2/Users', {
      schemas: [USER],
      userName: 'fuzz',
      emails: [{ value: 'fuzz@corp.example', primary: true }],
    });
    scimGroupId = await scim('/scim/v2/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'fuzzers',
      members: [{ value: scimUserId }],
    });
  });
  afterAll(async () => {
    await f?.close();
  });

  /** Valid values for the route's path and required query, so the fault under test is the only one. */
  const fill = (route: RouteEntry) => ({
    path: (url: string) =>
      url
        .replace(/^\/v1\/requests\/:id/, `/v1/requests/${requestId}`)
        .replace(/^\/v1\/tokens\/:id/, `/v1/tokens/${tokenId}`)
        .replace(/^\/scim\/v2\/Users\/:id/, `/scim/v2/Users/${scimUserId}`)
        .replace(/^\/scim\/v2\/Groups\/:id/, `/scim/v2/Groups/${scimGroupId}`)
        .replace(/:id/, 'User')
        .replace('*', 'Nope'),
    query: Object.fromEntries(
      ((route.schema.querystring as { required?: string[] } | undefined)?.required ?? []).map((k) => [
        k,
        k === 'since' ? '2020-01-01T00:00:00Z' : k === 'until' ? '2030-01-01T00:00:00Z' : '1',
      ]),
    ),
  });

  const credential = (route: RouteEntry) =>
    route.url.startsWith('/scim/') ? `Bearer ${FULL_SCIM_TOKEN}` : `Bearer ${f.h.tokens.root}`;

  async function send(route: RouteEntry, c: BadCase): Promise<Answer> {
    const res = await f.app.inject({
      method: route.method as 'GET',
      url: c.url,
      headers: { authorization: credential(route), ...c.headers },
      ...(c.payload === undefined ? {} : { payload: c.payload }),
    });
    return { statusCode: res.statusCode, headers: res.headers, body: res.body };
  }

  it('walks every route the server registers, SCIM and sign-in included', () => {
    const names = new Set(routes.map((r) => `${r.method} ${r.url}`));
    for (const expected of [
      'POST /v1/requests',
      'POST /auth/logout',
      'GET /auth/callback',
      'GET /v1/auth/config',
      'POST /v1/auth/token',
      'DELETE /scim/v2/Users/:id',
      'POST /scim/v2/Bulk',
      'GET /openapi.json',
    ]) {
      expect(names).toContain(expected);
    }
  });

  it('every malformed body, query, path and header is refused with a 4xx and a code, and changes nothing', async () => {
    const problems: string[] = [];
    let sent = 0;
    for (const route of routes) {
      if (route.method === 'HEAD' || route.method === 'OPTIONS') continue;
      const before = await state(f.h.testStore.store);
      for (const c of casesFor(route, fill(route))) {
        const res = await send(route, c);
        sent++;
        const problem = refusalProblem(c.url, res);
        if (problem) problems.push(`${route.method} ${route.url} [${c.label}]: ${problem}`);
        // A credential that works must not be what refuses the request: the fault under test must be reached.
        else if (res.statusCode === 401 && !route.public) {
          problems.push(`${route.method} ${route.url} [${c.label}]: 401 with a valid credential`);
        }
      }
      const after = await state(f.h.testStore.store);
      if (JSON.stringify(after) !== JSON.stringify(before)) {
        problems.push(`${route.method} ${route.url}: bad input changed the store`);
      }
    }
    expect(problems).toEqual([]);
    expect(sent).toBeGreaterThan(1000);
  });

  it('generated wrong values for every field of every body are refused (fast-check)', async () => {
    const ajv = new Ajv({ strict: false });
    const bodyRoutes = routes.filter(
      (r) => (r.schema.body as { properties?: unknown } | undefined)?.properties !== undefined,
    );
    expect(bodyRoutes.length).toBeGreaterThan(8);
    for (const route of bodyRoutes) {
      const schema = route.schema.body as { properties: Record<string, object> };
      const keys = Object.keys(schema.properties);
      const before = await state(f.h.testStore.store);
      const base = sample(schema as never) as Record<string, unknown>;
      // Whole bodies of another type, or the valid-shaped body with one field of a wrong value: never valid.
      const payloads = fc
        .oneof(
          nonObjectJson,
          fc
            .tuple(fc.constantFrom(...keys), fc.oneof(nonObjectJson, fc.jsonValue({ maxDepth: 3 })))
            .map(([key, v]) => ({ ...base, [key]: v })),
        )
        .filter((body) => !ajv.validate(schema, body));
      await fc.assert(
        fc.asyncProperty(payloads, async (body) => {
          const payload = JSON.stringify(body);
          const res = await send(route, {
            label: 'generated',
            url: fill(route).path(route.url),
            headers: { 'content-type': 'application/json' },
            payload,
          });
          expect(refusalProblem(route.url, res), payload).toBeNull();
        }),
        { numRuns: 25, seed: 7 },
      );
      expect(await state(f.h.testStore.store)).toEqual(before);
    }
  });

  it('malformed credentials on every route that needs one are a coded 401, and change nothing', async () => {
    const before = await state(f.h.testStore.store);
    const problems: string[] = [];
    const credentials: Record<string, string>[] = [
      { authorization: `Bearer ${'x'.repeat(20_000)}` },
      { authorization: 'Basic YWxpY2U6cGFzc3dvcmQ=' },
      { authorization: 'Bearer' },
      { authorization: `bearer ${f.h.tokens.root}` },
      { authorization: `Bearer ${f.h.tokens.root} extra` },
      { authorization: `Bearer ${f.h.tokens.root}\u0000` },
      { cookie: 'stint_session=%ZZ%00' },
      { cookie: `stint_session=${'y'.repeat(5000)}` },
    ];
    for (const route of routes.filter((r) => !r.public || r.url.startsWith('/scim/'))) {
      if (route.method === 'HEAD' || route.method === 'OPTIONS') continue;
      const url = fill(route).path(route.url);
      const query = new URLSearchParams(fill(route).query).toString();
      for (const headers of credentials) {
        const res = await f.app.inject({
          method: route.method as 'GET',
          url: query ? `${url}?${query}` : url,
          headers,
        });
        const answer = { statusCode: res.statusCode, headers: res.headers, body: res.body };
        const problem = refusalProblem(url, answer, false);
        if (problem)
          problems.push(`${route.method} ${route.url} ${JSON.stringify(headers).slice(0, 60)}: ${problem}`);
        else if (res.statusCode !== 401) {
          problems.push(`${route.method} ${route.url}: ${res.statusCode}, not 401`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(await state(f.h.testStore.store)).toEqual(before);
  });
});
