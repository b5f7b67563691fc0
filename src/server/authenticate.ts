import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type RouteAccessTable, routeAccess, scopeAllows } from '../auth/route-access.js';
import type { TokenStore } from '../auth/token-store.js';
import type { Actor } from '../domain/actor.js';
import type { Clock } from '../domain/clock.js';
import { StintError } from '../domain/errors.js';
import { type AuthAudit, sourceOf } from '../identity/auth-audit.js';
import type { HostSessions } from '../identity/host-sessions.js';
import type { HostTokens } from '../identity/host-tokens.js';
import { addressKey, credentialKey, type Lockout, retryAfterSeconds } from '../identity/lockout.js';
import {
  csrfTokenMatches,
  type HostMade,
  isSessionToken,
  type SessionStore,
} from '../identity/session-store.js';
import type { RouteAccess } from '../module.js';
import type { PolicySource } from '../policy/policy-source.js';
import '../http/request-context.js';

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null;
  }
  interface FastifyContextConfig {
    /** Must agree with the route's row in src/auth/route-access.ts, which decides. */
    public?: boolean;
  }
}

export const SESSION_COOKIE = 'stint_session';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface AuthenticationDeps {
  /** Every route's row: the server's and each mounted module's. */
  access: RouteAccessTable;
  tokens: Pick<TokenStore, 'check'>;
  policy: PolicySource;
  clock: Clock;
  /** Sign-in sessions (bearer from the CLI, cookie from the portal); absent, only API tokens are accepted. */
  sessions?: Pick<SessionStore, 'check'>;
  /** Sessions made on the server host; absent, they are refused (HOST_SESSIONS_OFF). */
  hostSessions?: HostSessions;
  /** Tokens made on the server host; absent, one not yet announced in the audit trail is refused. */
  hostTokens?: Pick<HostTokens, 'admit'>;
  lockout?: Lockout;
  audit?: AuthAudit;
}

type Presented = { kind: 'api-token' | 'session' | 'cookie'; token: string };

function presented(request: FastifyRequest): Presented | null {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : '';
    return { kind: isSessionToken(token) ? 'session' : 'api-token', token };
  }
  const cookie = (request as { cookies?: Record<string, string | undefined> }).cookies?.[SESSION_COOKIE];
  return cookie ? { kind: 'cookie', token: cookie } : null;
}

const withoutUser = (access: RouteAccess | undefined) => access === 'public' || access === 'scim-token';

/**
 * Every route must have a row in the route table before it exists: a route nobody declared stops the server at
 * boot, so a new route cannot ship with no decision about who may call it. A `config.public` flag that
 * disagrees with its row is the same mistake.
 */
function requireRouteRows(app: FastifyInstance, table: RouteAccessTable): void {
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const access = routeAccess(table, method, route.url);
      const where = `${method} ${route.url}`;
      if (access === undefined) {
        throw new Error(
          `route ${where} has no access row: declare it in its module's routes (ModuleRoutes.access)`,
        );
      }
      const flagged = (route.config as { public?: boolean } | undefined)?.public === true;
      if (flagged !== withoutUser(access)) {
        throw new Error(`route ${where}: config.public disagrees with its access row`);
      }
    }
  });
}

/**
 * Authentication for every route whose row is not public: an API token or CLI session as a bearer token, or
 * the portal's session cookie (whose state-changing requests also need the CSRF header). The actor's roles
 * come from the directory; a scoped token must carry the scope the route's row names. Failures are counted
 * per client address and per presented credential id (never per user) for back-off, and audited without the
 * secret.
 */
export function registerAuthentication(app: FastifyInstance, deps: AuthenticationDeps): void {
  app.decorateRequest('actor', null);
  requireRouteRows(app, deps.access);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    // No row (an unknown URL): authenticate anyway, and no scoped token passes.
    const access = routeAccess(deps.access, request.method, request.routeOptions.url ?? '') ?? null;
    if (withoutUser(access)) return;
    const cred = presented(request);
    if (!cred) throw new StintError('UNAUTHENTICATED', 'missing bearer token');
    const now = deps.clock();
    const source = sourceOf(request);
    const ipKey = addressKey(source.ip);
    const credKey = credentialKey(cred.token);
    const holdBack = (until: Date, message: string): never => {
      reply.header('retry-after', String(retryAfterSeconds(until, now)));
      throw new StintError('AUTH_LOCKED', message);
    };

    const fail = async (reason: string, userId: string | null, id: string | null): Promise<never> => {
      // A credential id already held back answers 429. Its holder, who has the right secret, never gets here:
      // whoever saw the id (audit trail, token list) must not be able to shut its owner out.
      const wasHeld = credKey ? deps.lockout?.heldUntil([credKey], now) : null;
      deps.lockout?.failure(credKey ? [ipKey, credKey] : [ipKey], now);
      await deps.audit?.failed({ at: now, userId, method: cred.kind, reason, id, source });
      const until = credKey && wasHeld ? deps.lockout?.heldUntil([credKey], now) : null;
      if (until) holdBack(until, 'this credential failed too often: try again later');
      throw new StintError(
        'UNAUTHENTICATED',
        `invalid, expired or revoked ${cred.kind === 'api-token' ? 'token' : 'session'}`,
      );
    };

    // Checked before the credential, so a guessing client learns nothing more until its pause is over.
    const ipHeld = deps.lockout?.heldUntil([ipKey], now);
    if (ipHeld) {
      if (deps.lockout?.firstRefusal(ipKey, now)) {
        await deps.audit?.failed({
          at: now,
          userId: null,
          method: cred.kind,
          reason: 'locked',
          id: null,
          source,
        });
      }
      holdBack(ipHeld, 'too many failed sign-ins from this address: try again later');
    }

    let userId: string;
    let credential: NonNullable<Actor['credential']>;
    let mfaAt: Date | null = null;
    let authAt: Date | null = null;
    let hostMade: HostMade | null = null;
    let mintedByHostSession: string | null = null;
    let tokenUnannounced = false;
    if (cred.kind === 'api-token') {
      const r = await deps.tokens.check(cred.token, now);
      if (!r.ok) return fail(r.reason, r.userId, r.id);
      userId = r.userId;
      credential = { kind: 'api-token', id: r.id, scopes: r.scopes };
      mintedByHostSession = r.hostSession;
      tokenUnannounced = r.hostMade !== null && !r.hostMade.announced;
    } else {
      if (!deps.sessions) return fail('sessions-disabled', null, null);
      const r = await deps.sessions.check(cred.token, now);
      if (!r.ok) return fail(r.reason, r.userId, r.id);
      userId = r.userId;
      mfaAt = r.mfaAt;
      authAt = r.authAt;
      hostMade = r.hostMade;
      credential = { kind: cred.kind, id: r.id, scopes: null };
    }

    const user = deps.policy.current().users.get(userId);
    if (!user) return fail('not-in-directory', userId, credential.id);

    // A token an operator made on the host: announced (once, committed) before its first use acts.
    if (tokenUnannounced) {
      if (!deps.hostTokens) {
        throw new StintError('UNAUTHENTICATED', 'tokens made on the server host are not accepted here');
      }
      await deps.hostTokens.admit({ tokenId: credential.id, source, now });
    }

    // A session an operator made on the host: announced before it acts, limited or refused as configured, and
    // marked on the actor's source, which every audit event the actor causes carries.
    let hostSession: Actor['hostSession'];
    let actorSource: Actor['source'] = source;
    if (hostMade) {
      if (!deps.hostSessions) {
        throw new StintError('HOST_SESSIONS_OFF', 'sessions made on the server host are not accepted here');
      }
      const { limited } = await deps.hostSessions.admit({
        sessionId: credential.id,
        userId: user.id,
        hostMade,
        route: `${request.method === 'HEAD' ? 'GET' : request.method} ${request.routeOptions.url ?? ''}`,
        source,
        now,
      });
      hostSession = { id: credential.id, limited };
      actorSource = { ...source, via: 'host-session', hostSession: credential.id };
    } else if (mintedByHostSession) {
      actorSource = { ...source, via: 'host-session', hostSession: mintedByHostSession };
    }

    // A cookie rides along on any request the browser makes, so a state change must prove it came from our page.
    if (cred.kind === 'cookie' && !SAFE_METHODS.has(request.method)) {
      const header = request.headers['x-csrf-token'];
      if (typeof header !== 'string' || !csrfTokenMatches(cred.token, header)) {
        throw new StintError(
          'CSRF_TOKEN_INVALID',
          'missing or wrong x-csrf-token header (GET /auth/session gives it)',
        );
      }
    }
    if (!scopeAllows(access, credential.scopes)) {
      throw new StintError(
        'FORBIDDEN',
        access === null
          ? 'a scoped API token cannot do this: sign in, or use a token without scopes'
          : `this token's scopes do not include ${access}`,
        { needed: access },
      );
    }
    request.actor = {
      userId: user.id,
      security: user.security,
      admin: user.admin,
      auditor: user.auditor,
      source: actorSource,
      credential,
      mfaAt,
      authAt,
      ...(hostSession ? { hostSession } : {}),
    };
  });
}
