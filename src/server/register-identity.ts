import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { RouteAccessTable } from '../auth/route-access.js';
import { StintError } from '../domain/errors.js';
import type { IdentityModule } from '../identity/identity-module.js';
import { addressKey } from '../identity/lockout.js';
import { registerAuthentication } from './authenticate.js';

/**
 * Who is calling, for every route: cookies, the rate-limit plugin (the sign-in routes set their limits) and
 * authentication against the route-access table. Called once by buildHttpApp, before any module's routes (the
 * identity module's own sign-in and token routes among them).
 */
export async function registerIdentity(
  app: FastifyInstance,
  identity: IdentityModule,
  access: RouteAccessTable,
): Promise<void> {
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
    access,
    tokens,
    sessions: identity.sessions,
    hostSessions: identity.hostSessions,
    hostTokens: identity.hostTokens,
    policy: identity.policy,
    clock: identity.clock,
    lockout: identity.lockout,
    audit: identity.audit,
  });
}
