import Fastify from 'fastify';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { RequestView } from '../../src/requests/request-types.js';
import { commentBody, idParams, type SchemaTypes, sharedSchemas } from '../../src/server/schemas.js';

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
    const view = { id: 'req_0123456789abcdef', state: 'pending', durationSeconds: 3600 } as RequestView;

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
});
