import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { StintError } from '../domain/errors.js';
import type { IdentityModule } from '../identity/identity-module.js';
import { addressKey } from '../identity/lockout.js';
import { registerAuthentication } from './authenticate.js';
import { authRoutes } from './routes/auth-routes.js';
import { tokenRoutes } from './routes/token-routes.js';

/**
 * The HTTP side of identity: cookies, rate limits on the sign-in routes, authentication of every other route,
 * sign-in (when OIDC is configured), sessions and API-token management. Called once by buildHttpApp.
 */
export async function registerIdentity(app: FastifyInstance, identity: IdentityModule): Promise<void> {
  const { tokens } = identity;
  await app.register(cookie);
  await app.register(rateLimit, {
    global: false,
    // The same client key as the back-off: an IPv6 client is its /64, not each of its addresses.
    keyGenerator: (request) => addressKey(request.ip),
    errorResponseBuilder: (_request, ctx) =>
      new StintError('RATE_LIMITED', `too many requests: try again in ${Math.ceil(ctx.ttl / 1000)}s`),
  });
  registerAuthentication(app, {
    tokens,
    sessions: identity.sessions,
    hostSessions: identity.hostSessions,
    policy: identity.policy,
    clock: identity.clock,
    lockout: identity.lockout,
    audit: identity.audit,
  });
  await app.register(authRoutes(identity));
  await app.register(tokenRoutes({ tokens, clock: identity.clock }));
}
