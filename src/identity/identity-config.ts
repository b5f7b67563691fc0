import { readFileSync } from 'node:fs';
import { parseDuration } from '../domain/duration.js';

/**
 * Identity settings, parsed once at start-up from the environment. Without STINT_OIDC_ISSUER single sign-on is
 * off and the server works with API tokens alone; a half-given OIDC configuration fails at boot.
 */
export interface OidcConfig {
  issuer: URL;
  clientId: string;
  /** Absent: a public client (PKCE alone), as some providers allow for a loopback portal. */
  clientSecret: string | null;
  redirectUri: URL;
  /** Further audiences /v1/auth/token accepts: the CLI's own (public) client id at the provider. */
  cliClientIds: string[];
  scopes: string;
  /** The ID-token claim matched to a directory user (default `email`). */
  userClaim: string;
  /** `acr` values that count as a second factor, besides the MFA `amr` values. */
  mfaAcr: string[];
  mfaMaxAgeMs: number;
}

export interface IdentityConfig {
  oidc: OidcConfig | null;
  /** Portal session lifetime, and the CLI's. */
  sessionTtlMs: number;
  cliSessionTtlMs: number;
  /** Only for http://127.0.0.1 development: the session cookie without `Secure`. */
  cookieSecure: boolean;
  /** Requests per minute and IP address on /auth/* and /v1/auth/*. */
  authRateLimit: number;
  lockoutThreshold: number;
  lockoutMs: number;
}

const isLoopback = (u: URL) => ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname);

function url(name: string, text: string): URL {
  try {
    return new URL(text);
  } catch {
    throw new Error(`${name}: "${text}" is not a URL`);
  }
}

function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new Error(`${name}: "${text}" is not a positive whole number`);
  return n;
}

function durationMs(name: string, text: string | undefined, fallback: string): number {
  try {
    return parseDuration(text ?? fallback) * 1000;
  } catch (e) {
    throw new Error(`${name}: ${(e as Error).message}`);
  }
}

const list = (text: string | undefined) =>
  (text ?? '')
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');

export function loadIdentityConfig(env: Readonly<Record<string, string | undefined>>): IdentityConfig {
  const oidc = loadOidc(env);
  const insecure = env.STINT_COOKIE_INSECURE === '1' || env.STINT_COOKIE_INSECURE === 'true';
  if (insecure && oidc && !(oidc.redirectUri.protocol === 'http:' && isLoopback(oidc.redirectUri))) {
    throw new Error('STINT_COOKIE_INSECURE is only for an http://127.0.0.1 redirect URI in development');
  }
  return {
    oidc,
    sessionTtlMs: durationMs('STINT_SESSION_TTL', env.STINT_SESSION_TTL, '8h'),
    cliSessionTtlMs: durationMs('STINT_CLI_SESSION_TTL', env.STINT_CLI_SESSION_TTL, '12h'),
    cookieSecure: !insecure,
    authRateLimit: positiveInt('STINT_AUTH_RATE_LIMIT', env.STINT_AUTH_RATE_LIMIT, 30),
    lockoutThreshold: positiveInt('STINT_AUTH_LOCKOUT_THRESHOLD', env.STINT_AUTH_LOCKOUT_THRESHOLD, 10),
    lockoutMs: durationMs('STINT_AUTH_LOCKOUT_DURATION', env.STINT_AUTH_LOCKOUT_DURATION, '15m'),
  };
}

function loadOidc(env: Readonly<Record<string, string | undefined>>): OidcConfig | null {
  const given = Object.keys(env).filter((k) => k.startsWith('STINT_OIDC_') && env[k] !== '');
  if (!env.STINT_OIDC_ISSUER) {
    if (given.length > 0) throw new Error(`${given.join(', ')} given without STINT_OIDC_ISSUER`);
    return null;
  }
  const issuer = url('STINT_OIDC_ISSUER', env.STINT_OIDC_ISSUER);
  // openid-client refuses plain http; allowing it is for a provider on this machine only (development, tests).
  if (issuer.protocol !== 'https:' && !(issuer.protocol === 'http:' && isLoopback(issuer))) {
    throw new Error('STINT_OIDC_ISSUER must be https (plain http only on 127.0.0.1 for development)');
  }
  const clientId = env.STINT_OIDC_CLIENT_ID;
  if (!clientId) throw new Error('STINT_OIDC_CLIENT_ID is required with STINT_OIDC_ISSUER');
  if (env.STINT_OIDC_CLIENT_SECRET && env.STINT_OIDC_CLIENT_SECRET_FILE) {
    throw new Error('give STINT_OIDC_CLIENT_SECRET or STINT_OIDC_CLIENT_SECRET_FILE, not both');
  }
  const clientSecret = env.STINT_OIDC_CLIENT_SECRET_FILE
    ? readFileSync(env.STINT_OIDC_CLIENT_SECRET_FILE, 'utf8').trim()
    : (env.STINT_OIDC_CLIENT_SECRET ?? null);
  if (!env.STINT_OIDC_REDIRECT_URI)
    throw new Error('STINT_OIDC_REDIRECT_URI is required with STINT_OIDC_ISSUER');
  const redirectUri = url('STINT_OIDC_REDIRECT_URI', env.STINT_OIDC_REDIRECT_URI);
  return {
    issuer,
    clientId,
    clientSecret: clientSecret === '' ? null : clientSecret,
    redirectUri,
    cliClientIds: list(env.STINT_OIDC_CLI_CLIENT_ID),
    scopes: env.STINT_OIDC_SCOPES ?? 'openid email profile',
    userClaim: env.STINT_OIDC_USER_CLAIM ?? 'email',
    mfaAcr: list(env.STINT_OIDC_MFA_ACR),
    mfaMaxAgeMs: durationMs('STINT_OIDC_MFA_MAX_AGE', env.STINT_OIDC_MFA_MAX_AGE, '15m'),
  };
}
