import type { AuditWriter } from '../audit/audit-writer.js';
import { createTokenStore, type TokenStore } from '../auth/token-store.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Clock } from '../domain/clock.js';
import type { StintModule } from '../module.js';
import type { PolicySource } from '../policy/policy-source.js';
import type { StintDatabase } from '../store/database.js';
import { type AuthAudit, createAuthAudit } from './auth-audit.js';
import { createHostSessions, type HostSessions } from './host-sessions.js';
import { createHostTokens, type HostTokens } from './host-tokens.js';
import { type IdentityConfig, loadIdentityConfig, type OidcConfig } from './identity-config.js';
import { createLockout, type Lockout } from './lockout.js';
import { createOidcClient, type OidcClient } from './oidc-client.js';
import { type ResolveUser, resolveByEmail } from './resolve-user.js';
import { AUTH_ROUTE_ACCESS, authRoutes } from './routes/auth-routes.js';
import { TOKEN_ROUTE_ACCESS, tokenRoutes } from './routes/token-routes.js';
import { createSessionStore, type SessionStore } from './session-store.js';
import { createTokenService } from './token-service.js';

export interface IdentityOptions {
  config?: IdentityConfig;
  /** Maps sign-in claims to a directory user; defaults to the YAML directory by the configured claim. */
  resolveUser?: ResolveUser;
}

export interface IdentityParts {
  store: StintDatabase;
  policy: PolicySource;
  clock: Clock;
  secrets: SecretBox;
  audit: AuditWriter;
}

/** What the HTTP layer needs to authenticate callers and serve sign-in; the server registers the routes. */
export interface IdentityModule {
  config: IdentityConfig;
  /** API tokens: what scripts and the CLI authenticate with. */
  tokens: TokenStore;
  sessions: SessionStore;
  /** Sessions made on the server host: announced in the audit trail at first use, limited by configuration. */
  hostSessions: HostSessions;
  /** Tokens made or revoked on the server host: announced in the audit trail at first use or by the sweep. */
  hostTokens: HostTokens;
  lockout: Lockout;
  audit: AuthAudit;
  /** Absent when single sign-on is not configured. */
  oidc: { config: OidcConfig; client: OidcClient } | null;
  resolveUser: ResolveUser;
  policy: PolicySource;
  secrets: SecretBox;
  clock: Clock;
  /** Sign-in and API-token routes; the server registers authentication itself before any module's routes. */
  module: StintModule;
}

/**
 * Everything about who is calling, without HTTP: sessions, the failure counters, sign-in audit and the OpenID
 * relying party, and the sign-in and token routes. Authenticating every other route is the server's (it must
 * run before any module's routes are added).
 */
export function createIdentityModule(parts: IdentityParts, options: IdentityOptions = {}): IdentityModule {
  const config = options.config ?? loadIdentityConfig({});
  const sessions = createSessionStore(parts.store.db);
  const identity: Omit<IdentityModule, 'module'> = {
    config,
    tokens: createTokenStore(parts.store.db),
    sessions,
    hostSessions: createHostSessions({
      db: parts.store.db,
      audit: parts.audit,
      sessions,
      mode: config.hostSessions,
    }),
    hostTokens: createHostTokens({ db: parts.store.db, audit: parts.audit, clock: parts.clock }),
    lockout: createLockout(config.lockout),
    audit: createAuthAudit(parts.store.db, parts.audit),
    oidc: config.oidc ? { config: config.oidc, client: createOidcClient(config.oidc) } : null,
    resolveUser: options.resolveUser ?? resolveByEmail(parts.policy, config.oidc?.userClaim),
    policy: parts.policy,
    secrets: parts.secrets,
    clock: parts.clock,
  };
  const service = createTokenService({
    db: parts.store.db,
    audit: parts.audit,
    clock: parts.clock,
    hostTokens: identity.hostTokens,
  });
  return {
    ...identity,
    module: {
      name: 'identity',
      // What `stint admin token create|revoke` did on the host, told even if the token is never presented.
      sweeps: [
        { name: 'identity.host-tokens', everyMs: 10_000, run: (signal) => identity.hostTokens.sweep(signal) },
      ],
      routes: [
        { plugin: authRoutes(identity), access: AUTH_ROUTE_ACCESS },
        { plugin: tokenRoutes({ tokens: identity.tokens, service }), access: TOKEN_ROUTE_ACCESS },
      ],
    },
  };
}
