import type { FastifyInstance } from 'fastify';
import { authorize } from '../../auth/authorize.js';
import type { TokenStore } from '../../auth/token-store.js';
import { MAX_SCOPED_TOKEN_DAYS, SCOPES } from '../../domain/scopes.js';
import { actorOf } from '../../http/request-context.js';
import { errorResponses, type SchemaTypes } from '../../http/schemas.js';
import type { ModuleRoutes } from '../../module.js';
import type { TokenService } from '../token-service.js';

const tokenView = {
  type: 'object',
  required: ['id', 'userId', 'name', 'scopes', 'createdAt', 'expiresAt', 'revokedAt', 'lastUsedAt'],
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
 * of someone else answers "not found". Creating and revoking are audited (`token.created`, `token.revoked`) in the
 * transaction that changes the token.
 */
export function tokenRoutes(deps: { tokens: Pick<TokenStore, 'list'>; service: TokenService }) {
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
            200: {
              type: 'object',
              required: ['tokens'],
              properties: { tokens: { type: 'array', items: tokenView } },
            },
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
        return reply.status(201).send(await deps.service.create(actor, request.body));
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
        return deps.service.revoke(actor, request.params.id);
      },
    );
  };
}

/** A scoped token can never mint, list or revoke tokens: a leaked automation token cannot extend itself. */
export const TOKEN_ROUTE_ACCESS: ModuleRoutes['access'] = {
  'GET /v1/tokens': null,
  'POST /v1/tokens': null,
  'DELETE /v1/tokens/:id': null,
};
