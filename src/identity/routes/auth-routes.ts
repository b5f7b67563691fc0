import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SecretBox } from '../../crypto/secret-box.js';
import type { Clock } from '../../domain/clock.js';
import { StintError } from '../../domain/errors.js';
import { actorOf, SESSION_COOKIE } from '../../http/request-context.js';
import { errorResponses, type SchemaTypes } from '../../http/schemas.js';
import type { ModuleRoutes } from '../../module.js';
import { type AuthAudit, sourceOf } from '../auth-audit.js';
import type { IdentityConfig, OidcConfig } from '../identity-config.js';
import { addressKey, type Lockout, retryAfterSeconds } from '../lockout.js';
import { authAtFromClaims, mfaAtFromClaims } from '../mfa-claims.js';
import { type IdTokenClaims, type LoginState, type OidcClient, replayKeyOf } from '../oidc-client.js';
import type { ResolveUser } from '../resolve-user.js';
import { csrfTokenFor, type SessionStore } from '../session-store.js';

const LOGIN_COOKIE = 'stint_login';
const LOGIN_AAD = 'stint-login-state';

export interface AuthRouteDeps {
  config: IdentityConfig;
  /** Absent when single sign-on is not configured: only the session routes exist then. */
  oidc: { config: OidcConfig; client: OidcClient } | null;
  sessions: SessionStore;
  resolveUser: ResolveUser;
  lockout: Lockout;
  audit: AuthAudit;
  secrets: SecretBox;
  clock: Clock;
}

/** A browser redirect: no body, the Location header says where. */
const redirect = { description: 'A redirect (Location header)', type: 'null' } as const;
const signInErrors = { ...errorResponses, 429: { $ref: 'Error#' } } as const;

const sessionView = {
  type: 'object',
  required: ['userId', 'method', 'mfaAt', 'csrfToken'],
  properties: {
    userId: { type: 'string' },
    method: { type: 'string' },
    mfaAt: { type: ['string', 'null'] },
    csrfToken: { type: ['string', 'null'] },
  },
} as const;

/**
 * Sign-in: the portal's authorization code + PKCE round trip (state, nonce and verifier travel in an encrypted,
 * ten-minute cookie scoped to /auth), and the CLI's exchange of an ID token for a Stint session token.
 */
export function authRoutes(deps: AuthRouteDeps) {
  const { config, sessions, lockout, audit } = deps;
  const rateLimit = { max: config.authRateLimit, timeWindow: 60_000 };

  /**
   * Runs a sign-in step; a refusal is counted against the client address (never the person the token names: a
   * forged or stale token must not shut them out) and audited, then answered with its code.
   */
  async function guarded<T>(
    request: FastifyRequest,
    reply: FastifyReply,
    method: string,
    step: () => Promise<T>,
  ): Promise<T> {
    const now = deps.clock();
    const source = sourceOf(request);
    const ipKey = addressKey(source.ip);
    const held = lockout.heldUntil([ipKey], now);
    if (held) {
      await audit.failed({ at: now, userId: null, method, reason: 'locked', id: null, source });
      reply.header('retry-after', String(retryAfterSeconds(held, now)));
      throw new StintError('AUTH_LOCKED', 'too many failed sign-ins from this address: try again later');
    }
    try {
      return await step();
    } catch (e) {
      // The provider being down is not the caller's failure: not counted, not an authentication event.
      if (e instanceof StintError && e.code !== 'IDP_ERROR') {
        if (e.code !== 'AUTH_LOCKED') lockout.failure([ipKey], now);
        await audit.failed({ at: now, userId: null, method, reason: e.code, id: null, source });
      }
      throw e;
    }
  }

  /** The directory user the claims name, and when they last used a second factor. */
  async function signIn(
    request: FastifyRequest,
    method: 'oidc' | 'cli',
    claims: IdTokenClaims,
    oidc: OidcConfig,
  ) {
    const now = deps.clock();
    const found = await deps.resolveUser(claims);
    if (!found) {
      throw new StintError('UNKNOWN_IDENTITY', `no directory user matches this sign-in's ${oidc.userClaim}`);
    }
    const mfaAt = mfaAtFromClaims(claims, oidc.mfaAcr);
    const session = await sessions.create({
      userId: found.userId,
      source: method,
      now,
      ttlMs: method === 'oidc' ? config.sessionTtlMs : config.cliSessionTtlMs,
      mfaAt,
      authAt: authAtFromClaims(claims),
    });
    await audit.succeeded({
      at: now,
      userId: found.userId,
      method,
      id: session.id,
      source: sourceOf(request),
      subject: String(claims.sub),
      mfa: mfaAt !== null,
    });
    return { ...session, userId: found.userId, mfaAt };
  }

  const cookieBase = { httpOnly: true, secure: config.cookieSecure, sameSite: 'lax' as const };

  return async function plugin(app: FastifyInstance): Promise<void> {
    const api = app.withTypeProvider<SchemaTypes>();
    api.get(
      '/auth/session',
      {
        schema: {
          operationId: 'getSession',
          summary: 'The signed-in session, with the CSRF token a cookie session must send on changes',
          tags: ['auth'],
          response: { 200: sessionView, ...errorResponses },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        const cookie = actor.credential?.kind === 'cookie' ? request.cookies[SESSION_COOKIE] : undefined;
        return {
          userId: actor.userId,
          method: actor.credential?.kind ?? 'api-token',
          mfaAt: actor.mfaAt?.toISOString() ?? null,
          csrfToken: cookie ? csrfTokenFor(cookie) : null,
        };
      },
    );

    api.post(
      '/auth/logout',
      {
        config: { rateLimit },
        schema: {
          operationId: 'logout',
          summary: 'Ends the current session',
          tags: ['auth'],
          response: { 204: { type: 'null' }, ...errorResponses },
        },
      },
      async (request, reply: FastifyReply) => {
        const actor = actorOf(request);
        if (actor.credential && actor.credential.kind !== 'api-token') {
          await sessions.revoke(actor.credential.id, deps.clock());
        }
        reply.clearCookie(SESSION_COOKIE, { ...cookieBase, path: '/' });
        return reply.status(204).send();
      },
    );

    const oidc = deps.oidc;
    if (!oidc) return;

    api.get(
      '/v1/auth/config',
      {
        config: { public: true, rateLimit },
        schema: {
          operationId: 'getAuthConfig',
          summary: 'Where `stint login` signs in: the provider and the client id the CLI uses there',
          tags: ['auth'],
          security: [],
          response: {
            200: {
              type: 'object',
              required: ['issuer', 'clientId', 'scopes'],
              properties: {
                issuer: { type: 'string' },
                clientId: { type: 'string' },
                scopes: { type: 'string' },
              },
            },
            400: { $ref: 'Error#' },
            429: { $ref: 'Error#' },
          },
        },
      },
      async () => ({
        issuer: oidc.config.issuer.href,
        clientId: oidc.config.cliClientIds[0] ?? oidc.config.clientId,
        scopes: oidc.config.scopes,
      }),
    );

    api.get(
      '/auth/login',
      {
        config: { public: true, rateLimit },
        schema: {
          operationId: 'startLogin',
          summary: 'Starts a portal sign-in: redirects the browser to the identity provider',
          tags: ['auth'],
          security: [],
          response: { 302: redirect, ...signInErrors },
        },
      },
      async (request, reply) =>
        guarded(request, reply, 'oidc', async () => {
          const { url, login } = await oidc.client.begin(deps.clock());
          reply.setCookie(LOGIN_COOKIE, deps.secrets.seal(JSON.stringify(login), LOGIN_AAD), {
            ...cookieBase,
            path: '/auth',
            maxAge: 600,
          });
          return reply.redirect(url.href, 302);
        }),
    );

    api.get(
      '/auth/callback',
      {
        config: { public: true, rateLimit },
        schema: {
          operationId: 'finishLogin',
          summary: 'The provider returns here; the session cookie is set and the browser sent to /',
          tags: ['auth'],
          security: [],
          response: { 303: redirect, ...signInErrors },
        },
      },
      async (request, reply) => {
        const sealed = request.cookies[LOGIN_COOKIE];
        // One attempt per login: the state cookie goes whatever the outcome.
        reply.clearCookie(LOGIN_COOKIE, { ...cookieBase, path: '/auth' });
        return guarded(request, reply, 'oidc', async () => {
          const login = openLogin(sealed, deps.secrets, deps.clock());
          const current = new URL(oidc.config.redirectUri.href);
          current.search = new URL(request.url, 'http://x').search;
          const claims = await oidc.client.finish(current, login, deps.clock());
          const session = await signIn(request, 'oidc', claims, oidc.config);
          reply.setCookie(SESSION_COOKIE, session.token, {
            ...cookieBase,
            path: '/',
            expires: session.expiresAt,
          });
          return reply.redirect('/', 303);
        });
      },
    );

    api.post(
      '/v1/auth/token',
      {
        config: { public: true, rateLimit },
        schema: {
          operationId: 'exchangeIdToken',
          summary: 'Exchanges an ID token the CLI obtained for a short-lived Stint session token',
          tags: ['auth'],
          security: [],
          body: {
            type: 'object',
            required: ['id_token'],
            additionalProperties: false,
            properties: {
              id_token: { type: 'string', minLength: 1, maxLength: 16384 },
              nonce: { type: 'string', minLength: 16, maxLength: 256 },
            },
          },
          response: {
            201: {
              type: 'object',
              required: ['token', 'userId', 'expiresAt', 'mfaAt'],
              properties: {
                token: { type: 'string' },
                userId: { type: 'string' },
                expiresAt: { type: 'string' },
                mfaAt: { type: ['string', 'null'] },
              },
            },
            ...errorResponses,
          },
        },
      },
      async (request, reply) =>
        guarded(request, reply, 'cli', async () => {
          const idToken = request.body.id_token;
          const nonce = request.body.nonce ?? null;
          const now = deps.clock();
          const claims = await oidc.client.verify(idToken, nonce, now);
          // Kept until the token expires: the same nonce can never buy a second session. Without a nonce
          // (device flow) the statement is used once (issuer, subject, audience, iat, auth_time, jti): never
          // the token's text, which has several spellings.
          const once = nonce ?? replayKeyOf(claims);
          const fresh = await sessions.useNonce(
            `${claims.iss}\0${once}`,
            new Date((claims.exp ?? 0) * 1000 + 60_000),
            now,
          );
          if (!fresh)
            throw new StintError('ID_TOKEN_REPLAYED', 'this ID token (nonce) was already exchanged');
          const session = await signIn(request, 'cli', claims, oidc.config);
          return reply.status(201).send({
            token: session.token,
            userId: session.userId,
            expiresAt: session.expiresAt.toISOString(),
            mfaAt: session.mfaAt?.toISOString() ?? null,
          });
        }),
    );
  };
}

function openLogin(sealed: string | undefined, secrets: SecretBox, now: Date): LoginState {
  if (!sealed)
    throw new StintError('LOGIN_STATE_INVALID', 'no login in progress in this browser: start again');
  let login: LoginState;
  try {
    login = JSON.parse(secrets.open(sealed, LOGIN_AAD)) as LoginState;
  } catch {
    throw new StintError('LOGIN_STATE_INVALID', 'the login state cookie is not valid: start again');
  }
  if (login.until <= now.getTime())
    throw new StintError('LOGIN_STATE_INVALID', 'the login took too long: start again');
  return login;
}

/** Who may call the sign-in routes (the route-access table's rows for them). */
export const AUTH_ROUTE_ACCESS: ModuleRoutes['access'] = {
  'GET /v1/auth/config': 'public',
  'GET /auth/login': 'public',
  'GET /auth/callback': 'public',
  'POST /v1/auth/token': 'public',
  'GET /auth/session': null,
  'POST /auth/logout': null,
};
