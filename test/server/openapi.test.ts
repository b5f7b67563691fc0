import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteEntry } from '../../src/server/route-table.js';
import { createFullApp, type FullApp } from '../support/full-app.js';

type Operation = {
  operationId?: string;
  responses?: Record<string, unknown>;
  parameters?: { name: string; in: string }[];
};
type Spec = {
  openapi: string;
  servers?: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
};

/** Fastify's `/v1/requests/:id` is OpenAPI's `/v1/requests/{id}`. */
const openApiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}');
const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/**
 * The served document describes every route the server registers (walked from Fastify's route table, not from
 * the document itself), and passes the checks of Redocly's recommended ruleset that a generated client needs.
 */
describe('the OpenAPI document', () => {
  let f: FullApp;
  let spec: Spec;
  let routes: RouteEntry[];

  beforeAll(async () => {
    f = await createFullApp('sqlite');
    spec = (await f.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    // The one route OpenAPI cannot express: SCIM's catch-all, which answers SCIM's 404 for unknown paths.
    routes = f.app.routeTable.filter((r) => !r.url.includes('*') && r.method !== 'HEAD');
  });
  afterAll(async () => {
    await f?.close();
  });

  it('has a server (no-empty-servers)', () => {
    expect(spec.servers?.length ?? 0).toBeGreaterThan(0);
    for (const s of spec.servers ?? []) expect(s.url).not.toMatch(/example\.com/);
  });

  it('documents every route the server registers, SCIM and sign-in included', () => {
    const missing = routes
      .filter((r) => spec.paths[openApiPath(r.url)]?.[r.method.toLowerCase()] === undefined)
      .map((r) => `${r.method} ${r.url}`);
    expect(missing).toEqual([]);
    expect(routes.length).toBeGreaterThan(50);
    for (const expected of ['/scim/v2/Users/{id}', '/v1/auth/config', '/auth/login', '/auth/callback']) {
      expect(Object.keys(spec.paths)).toContain(expected);
    }
  });

  it('documents nothing the server does not serve', () => {
    const served = new Set(routes.map((r) => `${r.method.toLowerCase()} ${openApiPath(r.url)}`));
    for (const [path, ops] of Object.entries(spec.paths)) {
      for (const method of Object.keys(ops).filter((m) => METHODS.has(m))) {
        expect(served, `${method} ${path}`).toContain(`${method} ${path}`);
      }
    }
  });

  it('gives every operation a unique operationId, a 2xx and a 4xx response (operation-operationId, operation-4xx-response)', () => {
    const problems: string[] = [];
    const ids = new Map<string, string>();
    for (const [path, ops] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(ops).filter(([m]) => METHODS.has(m))) {
        const where = `${method.toUpperCase()} ${path}`;
        if (!op.operationId) problems.push(`${where}: no operationId`);
        else if (!/^[A-Za-z][A-Za-z0-9]*$/.test(op.operationId))
          problems.push(`${where}: operationId not an identifier`);
        else if (ids.has(op.operationId))
          problems.push(`${where}: operationId shared with ${ids.get(op.operationId)}`);
        else ids.set(op.operationId, where);
        const codes = Object.keys(op.responses ?? {});
        // SCIM Bulk never succeeds here: it is documented as the 501 it always is.
        const never = where === 'POST /scim/v2/Bulk';
        if (!never && !codes.some((c) => /^[23]\d\d$/.test(c)))
          problems.push(`${where}: no 2xx or 3xx response`);
        if (!codes.some((c) => /^4\d\d$/.test(c))) problems.push(`${where}: no 4xx response`);
        // path-parameters-defined: every {name} of the path is a declared path parameter.
        for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
          if (!op.parameters?.some((p) => p.in === 'path' && p.name === name)) {
            problems.push(`${where}: path parameter ${name} not declared`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('documenting answers changes none of them: the signed note stays text, health fields pass through', async () => {
    await f.h.stint.audit.log.build({ checkpoint: true });
    const note = await f.app.inject({ method: 'GET', url: '/audit/checkpoint' });
    expect(note.statusCode).toBe(200);
    expect(note.headers['content-type']).toMatch(/^text\/plain/);
    expect(note.body.startsWith('stint-test/')).toBe(true);
    expect((await f.app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready' });
  });
  // The artifact a client (or the portal) is generated from: `npm run openapi` rewrites the file from this same
  // full configuration; here a served document that drifted from the committed file fails.
  it('is the committed artifact docs/openapi.json, with named components', async () => {
    const components =
      (spec as { components?: { schemas?: Record<string, unknown> } }).components?.schemas ?? {};
    expect(Object.keys(components)).toEqual(expect.arrayContaining(['Error', 'Request', 'Credential']));
    expect(Object.keys(components).filter((name) => /^def-\d+$/.test(name))).toEqual([]);
    await expect(`${JSON.stringify(spec, null, 2)}\n`).toMatchFileSnapshot('../../docs/openapi.json');
  });
});
