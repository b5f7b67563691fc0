import { createHash } from 'node:crypto';
import type { createRemoteJWKSet, JWTPayload } from 'jose';
import type * as Oidc from 'openid-client';
import { StintError } from '../domain/errors.js';
import type { OidcConfig } from './identity-config.js';

/** What a login keeps between the redirect to the provider and the callback (in an encrypted cookie). */
export interface LoginState {
  state: string;
  nonce: string;
  verifier: string;
  /** Epoch ms after which the callback is refused. */
  until: number;
}

export type IdTokenClaims = JWTPayload & Record<string, unknown>;

/** Asymmetric algorithms only: `none` and the HMAC family (keyed with the client secret) are never accepted. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** How long a fresh ID token may be before it is exchanged (CLI) or accepted from the token endpoint (portal). */
const EXCHANGE_MAX_AGE_S = 10 * 60;

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * Three base64url segments, each exactly as its bytes encode: no padding, no spare bits set in a last
 * character. Decoders ignore those bits, so without this one token has many spellings that all verify.
 */
export function isCanonicalJwt(jwt: string): boolean {
  const parts = jwt.split('.');
  return (
    parts.length === 3 &&
    parts.every((p) => SEGMENT.test(p) && Buffer.from(p, 'base64url').toString('base64url') === p)
  );
}

/**
 * What makes a nonce-less ID token the same sign-in, whatever its encoding or signature (an ECDSA signature can
 * be re-shaped, and a provider may sign the same statement twice): who issued it, about whom, to whom, when.
 */
export function replayKeyOf(claims: IdTokenClaims): string {
  const statement = [
    claims.iss,
    claims.sub,
    claims.aud,
    claims.iat,
    claims.auth_time ?? null,
    claims.jti ?? null,
  ];
  return `claims:${createHash('sha256').update(JSON.stringify(statement)).digest('base64url')}`;
}

/**
 * openid-client and jose (with oauth4webapi, ~270 KB of source) load with the first OIDC call: a server without
 * OIDC, or before its first login, does not hold them. A failed load is tried again at the next call.
 */
let loading: Promise<{ oidc: typeof Oidc; jose: typeof import('jose') }> | undefined;
function sdks(): Promise<{ oidc: typeof Oidc; jose: typeof import('jose') }> {
  loading ??= Promise.all([import('openid-client'), import('jose')]).then(
    ([oidc, jose]) => ({ oidc, jose }),
    (err: unknown) => {
      loading = undefined;
      throw err;
    },
  );
  return loading;
}

/**
 * The relying party: authorization code + PKCE for the portal (openid-client), and verification of ID tokens the
 * CLI obtained itself (jose against the provider's published keys). Discovery happens on first use and is
 * retried after a failure, so a provider that is down at boot does not keep Stint down.
 */
export function createOidcClient(config: OidcConfig) {
  let discovered: Promise<Oidc.Configuration> | null = null;
  let jwks: ReturnType<typeof createRemoteJWKSet> | null = null;

  const configuration = (): Promise<Oidc.Configuration> => {
    discovered ??= sdks()
      .then(({ oidc }) =>
        oidc.discovery(
          config.issuer,
          config.clientId,
          config.clientSecret ?? undefined,
          config.clientSecret ? oidc.ClientSecretBasic(config.clientSecret) : oidc.None(),
          config.issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {},
        ),
      )
      .catch((e: unknown) => {
        discovered = null;
        throw new StintError('IDP_ERROR', `the identity provider cannot be reached: ${(e as Error).message}`);
      });
    return discovered;
  };

  /**
   * Signature by one of the provider's published keys (fetched over TLS from its jwks_uri, never trusted
   * because the token arrived over TLS), issuer, audience, expiry, and `iat` neither too old nor in the future.
   */
  async function verifySigned(idToken: string, audiences: string[], now: Date): Promise<IdTokenClaims> {
    if (!isCanonicalJwt(idToken)) {
      throw new StintError('ID_TOKEN_INVALID', 'the ID token is not in canonical compact form');
    }
    const c = await configuration();
    const { jose } = await sdks();
    const meta = c.serverMetadata();
    if (!meta.jwks_uri) throw new StintError('IDP_ERROR', 'the identity provider publishes no jwks_uri');
    jwks ??= jose.createRemoteJWKSet(new URL(meta.jwks_uri));
    let payload: JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(idToken, jwks, {
        issuer: meta.issuer,
        audience: audiences,
        algorithms: ALGORITHMS,
        currentDate: now,
        maxTokenAge: EXCHANGE_MAX_AGE_S,
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
        clockTolerance: 30,
      }));
    } catch (e) {
      throw mapJoseError(e, jose.errors);
    }
    // With several audiences the token must say which party it was issued to.
    if (Array.isArray(payload.aud) && payload.aud.length > 1) {
      if (typeof payload.azp !== 'string' || !audiences.includes(payload.azp)) {
        throw new StintError('ID_TOKEN_INVALID', 'the ID token was issued to another party (azp)');
      }
    }
    return payload as IdTokenClaims;
  }

  return {
    async begin(now: Date): Promise<{ url: URL; login: LoginState }> {
      const c = await configuration();
      const { oidc } = await sdks();
      const verifier = oidc.randomPKCECodeVerifier();
      const login: LoginState = {
        state: oidc.randomState(),
        nonce: oidc.randomNonce(),
        verifier,
        until: now.getTime() + 10 * 60_000,
      };
      const url = oidc.buildAuthorizationUrl(c, {
        redirect_uri: config.redirectUri.href,
        scope: config.scopes,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: login.state,
        nonce: login.nonce,
      });
      return { url, login };
    },

    /**
     * Exchanges the code (openid-client checks state, PKCE, nonce), then verifies the ID token itself: openid-client
     * trusts a token endpoint's answer because it came over TLS, which a proxy, a mis-issued certificate or a
     * plain-http provider defeats.
     */
    async finish(callbackUrl: URL, login: LoginState, now: Date): Promise<IdTokenClaims> {
      const c = await configuration();
      const { oidc } = await sdks();
      const state = callbackUrl.searchParams.get('state');
      if (state !== login.state)
        throw new StintError('LOGIN_STATE_INVALID', 'the login state does not match');
      if (callbackUrl.searchParams.has('error')) {
        throw new StintError(
          'UNAUTHENTICATED',
          `the identity provider refused: ${callbackUrl.searchParams.get('error')}`,
        );
      }
      try {
        const tokens = await oidc.authorizationCodeGrant(c, callbackUrl, {
          pkceCodeVerifier: login.verifier,
          expectedState: login.state,
          expectedNonce: login.nonce,
          idTokenExpected: true,
        });
        if (!tokens.id_token) throw new StintError('ID_TOKEN_INVALID', 'the provider sent no ID token');
        const claims = await verifySigned(tokens.id_token, [config.clientId], now);
        if (claims.nonce !== login.nonce)
          throw new StintError('NONCE_MISMATCH', 'the ID token nonce does not match');
        return claims;
      } catch (e) {
        if (e instanceof StintError) throw e;
        throw mapOidcError(e);
      }
    },

    /**
     * Verifies an ID token the CLI obtained: signature by the provider's keys, issuer, audience (Stint's or the
     * CLI's client id), expiry, freshness, and the nonce the CLI generated. The device flow has no nonce (RFC
     * 8628 has no front channel to carry one): then the token must carry none either. Replay is the caller's check.
     */
    async verify(idToken: string, nonce: string | null, now: Date): Promise<IdTokenClaims> {
      const payload = await verifySigned(idToken, [config.clientId, ...config.cliClientIds], now);
      if ((payload.nonce ?? null) !== nonce)
        throw new StintError('NONCE_MISMATCH', 'the ID token nonce does not match');
      return payload;
    },

    issuer: () => config.issuer.href,
  };
}

export type OidcClient = ReturnType<typeof createOidcClient>;

function mapJoseError(e: unknown, joseErrors: typeof import('jose').errors): StintError {
  if (e instanceof StintError) return e;
  if (e instanceof joseErrors.JWTExpired)
    return new StintError('ID_TOKEN_EXPIRED', 'the ID token has expired');
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    // Too old by iat is a JWTExpired (above); what remains is an iat in the future.
    if (e.claim === 'iat') return new StintError('ID_TOKEN_INVALID', 'the ID token was issued in the future');
    return new StintError('ID_TOKEN_INVALID', `the ID token's "${e.claim}" claim is not acceptable`);
  }
  if (e instanceof joseErrors.JOSEError) {
    return new StintError('ID_TOKEN_INVALID', `the ID token is not valid (${e.code})`);
  }
  if (e instanceof TypeError || (e instanceof Error && e.name === 'AbortError')) {
    return new StintError('IDP_ERROR', 'the identity provider keys cannot be fetched');
  }
  return new StintError('ID_TOKEN_INVALID', 'the ID token is not valid');
}

function mapOidcError(e: unknown): StintError {
  const err = e as { code?: string; message?: string; error?: string; claim?: string };
  if (err.code === 'ERR_JWT_EXPIRED' || /expired|"exp"/i.test(err.message ?? '')) {
    return new StintError('ID_TOKEN_EXPIRED', 'the ID token has expired');
  }
  if (/nonce/i.test(err.message ?? ''))
    return new StintError('NONCE_MISMATCH', 'the ID token nonce does not match');
  // The provider answered the token request with an OAuth error (a used or wrong code, a bad verifier …).
  if (typeof err.error === 'string')
    return new StintError('UNAUTHENTICATED', `the provider refused the code: ${err.error}`);
  if (
    err.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' ||
    err.code === 'OAUTH_RESPONSE_IS_NOT_JSON' ||
    e instanceof TypeError
  ) {
    return new StintError('IDP_ERROR', 'the identity provider gave no usable answer');
  }
  return new StintError('ID_TOKEN_INVALID', 'the ID token is not valid');
}
