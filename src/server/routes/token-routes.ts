import type { FastifyInstance } from 'fastify';
import { authorize, can } from '../../auth/authorize.js';
import { MAX_SCOPED_TOKEN_DAYS, SCOPES } from '../../auth/scopes.js';
import type { TokenStore } from '../../auth/token-store.js';
import type { Clock } from '../../domain/clock.js';
import { StintError } from '../../domain/errors.js';
import { actorOf } from '../authenticate.js';
import { errorResponses, type SchemaTypes } from '../schemas.js';

const tokenView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    userId: { type: 'string' },
    name: { type: 'string' },
    scopes: { type: ['array', 'null'], items: { type: 'string' } },
    createdAt: { type: 'string' },
    expiresAt: { type: ['string', 'null'] },
    revokedAt: { type: ['string', 'null'] },
    lastUsedAt: { type: ['string', 'null'] },
  },
} as const;

/**
 * API tokens for automation. Through the API a token is always scoped and expiring (at most 90 days); its
 * secret is in the creation answer only. Everyone lists and revokes their own; an admin, everyone's. A token
 * of someone else answers "not found".
 */
export function tokenRoutes(deps: { tokens: TokenStore; clock: Clock }) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const api = app.withTypeProvider<SchemaTypes>();
    api.get(
      '/v1/tokens',
      {
        schema: {
          operationId: 'listTokens',
          summary: 'API tokens (never their secrets): your own, or with all=true everyone’s (admin)',
          tags: ['tokens'],
          querystring: {
            type: 'object',
            properties: { all: { type: 'boolean' } },
            additionalProperties: false,
          },
          response: {
            200: { type: 'object', properties: { tokens: { type: 'array', items: tokenView } } },
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        const all = request.query.all === true;
        authorize(actor, all ? 'token.manage-all' : 'token.manage');
        return { tokens: await deps.tokens.list(all ? null : actor.userId) };
      },
    );

    api.post(
      '/v1/tokens',
      {
        config: { idempotent: true },
        schema: {
          operationId: 'createToken',
          summary: 'Creates a scoped, expiring API token for yourself; the token is shown once',
          tags: ['tokens'],
          body: {
            type: 'object',
            required: ['name', 'scopes', 'expiresInDays'],
            additionalProperties: false,
            properties: {
              name: { type: 'string', minLength: 1, maxLength: 100 },
              scopes: {
                type: 'array',
                minItems: 1,
                uniqueItems: true,
                items: { type: 'string', enum: [...SCOPES] },
              },
              expiresInDays: { type: 'integer', minimum: 1, maximum: MAX_SCOPED_TOKEN_DAYS },
            },
          },
          response: {
            201: {
              type: 'object',
              properties: { ...tokenView.properties, token: { type: 'string' } },
            },
            ...errorResponses,
          },
        },
      },
      async (request, reply) => {
        const actor = actorOf(request);
        authorize(actor, 'token.manage');
        const { name, scopes, expiresInDays } = request.body;
        const now = deps.clock();
        const expiresAt = new Date(now.getTime() + expiresInDays * 86_400_000);
        // A token minted with a host-made session carries its mark: the session's power is not laundered.
        const created = await deps.tokens.create(
          actor.userId,
          name,
          now,
          expiresAt,
          scopes,
          actor.hostSession?.id ?? null,
        );
        const view = await deps.tokens.get(created.id);
        return reply.status(201).send({ ...view, token: created.token });
      },
    );

    api.delete(
      '/v1/tokens/:id',
      {
        config: { idempotent: true },
        schema: {
          operationId: 'revokeToken',
          summary: 'Revokes an API token (yours, or anyone’s as an admin)',
          tags: ['tokens'],
          params: {
            type: 'object',
            required: ['id'],
            additionalProperties: false,
            properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{16}$' } },
          },
          response: { 200: tokenView, ...errorResponses },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        authorize(actor, 'token.manage');
        const { id } = request.params;
        const token = await deps.tokens.get(id);
        if (!token || (token.userId !== actor.userId && !can(actor, 'token.manage-all'))) {
          throw new StintError('NOT_FOUND', `token ${id} not found`);
        }
        await deps.tokens.revoke(id, deps.clock());
        const revoked = await deps.tokens.get(id);
        // Never taken: revoking keeps the row, and tokens are never deleted.
        if (!revoked) throw new StintError('NOT_FOUND', `token ${id} not found`);
        return revoked;
      },
    );
  };
}
