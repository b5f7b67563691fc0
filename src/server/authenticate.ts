import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TokenStore } from '../auth/token-store.js';
import { StintError } from '../domain/errors.js';
import type { Clock, PolicySource } from '../requests/context.js';
import type { Actor } from '../requests/request-types.js';

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null;
  }
  interface FastifyContextConfig {
    /** Only routes that say so are reachable without a token: deny by default. */
    public?: boolean;
  }
}

/** Bearer-token authentication for every route not marked public; the actor's roles come from the directory. */
export function registerAuthentication(
  app: FastifyInstance,
  deps: { tokens: Pick<TokenStore, 'authenticate'>; policy: PolicySource; clock: Clock },
): void {
  app.decorateRequest('actor', null);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (request.routeOptions.config?.public === true) return;
    const header = request.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : null;
    if (!token) throw new StintError('UNAUTHENTICATED', 'missing bearer token');
    const userId = await deps.tokens.authenticate(token, deps.clock());
    if (!userId) throw new StintError('UNAUTHENTICATED', 'invalid, expired or revoked token');
    const user = deps.policy.current().users.get(userId);
    if (!user)
      throw new StintError('UNAUTHENTICATED', 'the token belongs to a user no longer in the directory');
    request.actor = {
      userId: user.id,
      security: user.security,
      admin: user.admin,
      auditor: user.auditor,
      source: { ip: request.ip ?? null, userAgent: request.headers['user-agent'] ?? null },
    };
  });
}

export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw new StintError('UNAUTHENTICATED', 'not authenticated');
  return request.actor;
}
