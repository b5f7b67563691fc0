import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { TokenStore } from '../auth/token-store.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { StintError } from '../domain/errors.js';
import type { Clock, PolicySource } from '../requests/context.js';
import { registerAuthentication } from '../server/authenticate.js';
import { authRoutes } from '../server/routes/auth-routes.js';
import { tokenRoutes } from '../server/routes/token-routes.js';
import type { StintDatabase } from '../store/database.js';
import { createAuthAudit } from './auth-audit.js';
import { type IdentityConfig, loadIdentityConfig } from './identity-config.js';
import { createLockout } from './lockout.js';
import { createOidcClient } from './oidc-client.js';
import { type ResolveUser, resolveByEmail } from './resolve-user.js';
import { createSessionStore } from './session-store.js';

export interface IdentityOptions {
  config?: IdentityConfig;
  /** Maps sign-in claims to a directory user; defaults to the YAML directory by the configured claim. */
  resolveUser?: ResolveUser;
}

export interface IdentityParts {
  store: StintDatabase;
  tokens: TokenStore;
  policy: PolicySource;
  clock: Clock;
  secrets: SecretBox;
}

/**
 * Everything about who is calling: cookies, rate limits on the sign-in routes, authentication of every other
 * route, sign-in (when OIDC is configured), sessions and API-token management. Called once by buildHttpApp.
 */
export async function registerIdentity(
  app: FastifyInstance,
  parts: IdentityParts,
  options: IdentityOptions = {},
): Promise<void> {
  const config = options.config ?? loadIdentityConfig({});
  await app.register(cookie);
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, ctx) =>
      new StintError('RATE_LIMITED', `too many requests: try again in ${Math.ceil(ctx.ttl / 1000)}s`),
  });
  const sessions = createSessionStore(parts.store.db);
  const lockout = createLockout({ threshold: config.lockoutThreshold, lockMs: config.lockoutMs });
  const audit = createAuthAudit(parts.store.db);
  registerAuthentication(app, {
    tokens: parts.tokens,
    sessions,
    policy: parts.policy,
    clock: parts.clock,
    lockout,
    audit,
  });
  const oidc = config.oidc ? { config: config.oidc, client: createOidcClient(config.oidc) } : null;
  await app.register(
    authRoutes({
      config,
      oidc,
      sessions,
      resolveUser: options.resolveUser ?? resolveByEmail(parts.policy, config.oidc?.userClaim),
      lockout,
      audit,
      secrets: parts.secrets,
      clock: parts.clock,
    }),
  );
  await app.register(tokenRoutes({ tokens: parts.tokens, clock: parts.clock }));
}
