import Fastify from 'fastify';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { commentBody, idParams, type SchemaTypes, sharedSchemas } from '../../src/http/schemas.js';
import type { RequestView } from '../../src/requests/request-types.js';

/**
 * Route types come from the route's schemas (SchemaTypes), not from generics written beside them. The type
 * assertions here are checked by `tsc` (the typecheck covers test/): were the provider to stop deriving
 * types, or a shared `$ref` to stop resolving, an `@ts-expect-error` below would be unused and fail it.
 */
describe('route types derived from the JSON schemas', () => {
  it('types params, body and reply from the schemas, shared $refs included', async () => {
    const app = Fastify();
    for (const schema of sharedSchemas) app.addSchema(schema);
    const api = app.withTypeProvider<SchemaTypes>();
    const view: RequestView = {
      id: 'req_0123456789abcdef',
      requester: 'alice',
      resource: 'prod-db',
      role: 'admin',
      reason: 'INC-1',
      durationSeconds: 3600,
      state: 'pending',
      tiers: ['manager'],
      waitingFor: [],
      eligibleApprovers: ['carol'],
      reviews: [],
      policyVersion: 'v1',
      ruleId: 'r1',
      createdAt: '2026-12-06T00:00:00.000Z',
      pendingUntil: '2026-12-07T00:00:00.000Z',
      approvedAt: null,
      activatedAt: null,
      expiresAt: null,
      endedAt: null,
      endedBy: null,
      endReason: null,
      revocation: 'none',
      revocationError: null,
      credentialShown: false,
      credentialVanishedAt: null,
    };

    api.post(
      '/requests/:id/approve',
      { schema: { params: idParams, body: commentBody, response: { 200: { $ref: 'Request#' } } } },
      async (request) => {
        expectTypeOf(request.params.id).toEqualTypeOf<string>();
        expectTypeOf(request.body?.comment).toEqualTypeOf<string | undefined>();
        // A service's view (an interface) is a valid reply: the serialiser writes only the listed fields.
        return { ...view, id: request.params.id, reviews: [] };
      },
    );

    api.get(
      '/off-schema',
      { schema: { response: { 200: { $ref: 'Request#' } } } },
      // @ts-expect-error: the Request schema says durationSeconds is an integer
      async () => ({ durationSeconds: 'an hour' }),
    );

    api.get(
      '/unknown-state',
      { schema: { response: { 200: { $ref: 'Request#' } } } },
      // @ts-expect-error: state is one of REQUEST_STATES
      async () => ({ state: 'maybe' }),
    );

    const approved = await app.inject({
      method: 'POST',
      url: '/requests/req_0123456789abcdef/approve',
      payload: { comment: 'ok' },
    });
    expect(approved.statusCode).toBe(200);
    expect(approved.json()).toMatchObject({ id: 'req_0123456789abcdef', state: 'pending' });
    const refused = await app.inject({ method: 'POST', url: '/requests/nope/approve', payload: {} });
    expect(refused.statusCode).toBe(400);
    await app.close();
  });

  it('never sends a reply short of a required field: the serialiser refuses it', async () => {
    const app = Fastify();
    for (const schema of sharedSchemas) app.addSchema(schema);
    const api = app.withTypeProvider<SchemaTypes>();
    api.get(
      '/short',
      { schema: { response: { 200: { $ref: 'Request#' } } } },
      // @ts-expect-error: the Request schema requires every field it lists
      async () => ({ id: 'req_0123456789abcdef', state: 'pending' }),
    );
    expect((await app.inject({ method: 'GET', url: '/short' })).statusCode).toBe(500);
    await app.close();
  });
});
