import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
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
  /** Failures a client address or credential id may have before it is backed off, and the longest pause. */
  lockout: { threshold: number; maxDelayMs: number };
  /** Addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed; empty: none. */
  trustedProxies: string[];
  /** What a session made on the server host (`stint admin session create`) may do (see host-sessions.ts). */
  hostSessions: HostSessionMode;
}

/**
 * `off`: refused; `first-factor`: only enrolling a first second factor for someone who has none (the default);
 * `full`: everything the person may do (the demo's default).
 */
export const HOST_SESSION_MODES = ['off', 'first-factor', 'full'] as const;
export type HostSessionMode = (typeof HOST_SESSION_MODES)[number];

/** STINT_HOST_SESSIONS, read by the server and by `stint admin session create` alike. */
export function hostSessionMode(env: Readonly<Record<string, string | undefined>>): HostSessionMode {
  const text = env.STINT_HOST_SESSIONS;
  if (text === undefined || text === '') return 'first-factor';
  if (!(HOST_SESSION_MODES as readonly string[]).includes(text)) {
    throw invalid(`STINT_HOST_SESSIONS: "${text}" is not one of ${HOST_SESSION_MODES.join(', ')}`);
  }
  return text as HostSessionMode;
}

export type IdentityConfigErrorCode = 'IDENTITY_CONFIG_INVALID' | 'OIDC_INSECURE_ISSUER';

/** A sign-in setting that stops the boot; the code lets the operator (and tests) tell which rule it broke. */
export class IdentityConfigError extends Error {
  override readonly name = 'IdentityConfigError';
  constructor(
    readonly code: IdentityConfigErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

const invalid = (message: string) => new IdentityConfigError('IDENTITY_CONFIG_INVALID', message);

const isLoopback = (u: URL) => ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname);

function url(name: string, text: string): URL {
  try {
    return new URL(text);
  } catch {
    throw invalid(`${name}: "${text}" is not a URL`);
  }
}

function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) throw invalid(`${name}: "${text}" is not a positive whole number`);
  return n;
}

function durationMs(name: string, text: string | undefined, fallback: string): number {
  try {
    return parseDuration(text ?? fallback) * 1000;
  } catch (e) {
    throw invalid(`${name}: ${(e as Error).message}`);
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
    throw invalid('STINT_COOKIE_INSECURE is only for an http://127.0.0.1 redirect URI in development');
  }
  return {
    oidc,
    sessionTtlMs: durationMs('STINT_SESSION_TTL', env.STINT_SESSION_TTL, '8h'),
    cliSessionTtlMs: durationMs('STINT_CLI_SESSION_TTL', env.STINT_CLI_SESSION_TTL, '12h'),
    cookieSecure: !insecure,
    authRateLimit: positiveInt('STINT_AUTH_RATE_LIMIT', env.STINT_AUTH_RATE_LIMIT, 30),
    lockout: {
      threshold: positiveInt('STINT_AUTH_LOCKOUT_THRESHOLD', env.STINT_AUTH_LOCKOUT_THRESHOLD, 10),
      maxDelayMs: durationMs('STINT_AUTH_LOCKOUT_DURATION', env.STINT_AUTH_LOCKOUT_DURATION, '15m'),
    },
    trustedProxies: proxies(env.STINT_TRUSTED_PROXIES),
    hostSessions: hostSessionMode(env),
  };
}

/** Each entry an IP address or a CIDR range: a host name or typo would silently trust nothing, or too much. */
function proxies(text: string | undefined): string[] {
  const entries = list(text);
  for (const entry of entries) {
    const [address = '', bits, extra] = entry.split('/');
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    const bitsOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max);
    if (family === 0 || !bitsOk || extra !== undefined) {
      throw invalid(`STINT_TRUSTED_PROXIES: "${entry}" is not an IP address or CIDR range`);
    }
  }
  return entries;
}

function loadOidc(env: Readonly<Record<string, string | undefined>>): OidcConfig | null {
  const given = Object.keys(env).filter((k) => k.startsWith('STINT_OIDC_') && env[k] !== '');
  if (!env.STINT_OIDC_ISSUER) {
    if (given.length > 0) throw invalid(`${given.join(', ')} given without STINT_OIDC_ISSUER`);
    return null;
  }
  const issuer = url('STINT_OIDC_ISSUER', env.STINT_OIDC_ISSUER);
  // Keys, tokens and discovery all come from the issuer: over plain http anyone on the path could replace them.
  // A provider on this machine may be http for development and tests, and only when the operator says so.
  const allowInsecure =
    env.STINT_OIDC_ALLOW_INSECURE_ISSUER === '1' || env.STINT_OIDC_ALLOW_INSECURE_ISSUER === 'true';
  if (issuer.protocol === 'http:') {
    if (!allowInsecure || !isLoopback(issuer)) {
      throw new IdentityConfigError(
        'OIDC_INSECURE_ISSUER',
        'STINT_OIDC_ISSUER must be https (plain http only for a provider on 127.0.0.1, with STINT_OIDC_ALLOW_INSECURE_ISSUER=1, in development)',
      );
    }
  } else if (issuer.protocol !== 'https:') {
    throw new IdentityConfigError('OIDC_INSECURE_ISSUER', 'STINT_OIDC_ISSUER must be an https URL');
  }
  const clientId = env.STINT_OIDC_CLIENT_ID;
  if (!clientId) throw invalid('STINT_OIDC_CLIENT_ID is required with STINT_OIDC_ISSUER');
  if (env.STINT_OIDC_CLIENT_SECRET && env.STINT_OIDC_CLIENT_SECRET_FILE) {
    throw invalid('give STINT_OIDC_CLIENT_SECRET or STINT_OIDC_CLIENT_SECRET_FILE, not both');
  }
  const clientSecret = env.STINT_OIDC_CLIENT_SECRET_FILE
    ? readFileSync(env.STINT_OIDC_CLIENT_SECRET_FILE, 'utf8').trim()
    : (env.STINT_OIDC_CLIENT_SECRET ?? null);
  if (!env.STINT_OIDC_REDIRECT_URI)
    throw invalid('STINT_OIDC_REDIRECT_URI is required with STINT_OIDC_ISSUER');
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
