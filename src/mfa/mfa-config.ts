import { parseDuration } from '../domain/duration.js';

export interface WebAuthnConfig {
  /** The relying party id: the registrable domain credentials are scoped to (e.g. stint.example.com). */
  rpId: string;
  /** The exact origin the browser reports (e.g. https://stint.example.com). */
  origin: string;
  rpName: string;
}

export interface MfaConfig {
  /** How long a verified second factor counts as fresh for step-up. */
  maxAgeSeconds: number;
  /** Shown by authenticator apps next to the account. */
  issuer: string;
  /** Null when WebAuthn is not configured: its routes then answer with a clear error. */
  webauthn: WebAuthnConfig | null;
}

export const DEFAULT_MFA_MAX_AGE_SECONDS = 15 * 60;

/**
 * Reads STINT_MFA_MAX_AGE (a duration, default 15m), STINT_WEBAUTHN_ORIGIN and STINT_WEBAUTHN_RP_ID (defaults to
 * the origin's host). A mistake fails at start-up with a precise message rather than at the first approval.
 */
export function mfaConfigFromEnv(env: Readonly<Record<string, string | undefined>>): MfaConfig {
  const maxAge = env.STINT_MFA_MAX_AGE?.trim();
  let maxAgeSeconds = DEFAULT_MFA_MAX_AGE_SECONDS;
  if (maxAge) {
    try {
      maxAgeSeconds = parseDuration(maxAge);
    } catch {
      throw new Error(`STINT_MFA_MAX_AGE: "${maxAge}" is not a duration (e.g. 15m, 1h)`);
    }
  }
  const originText = env.STINT_WEBAUTHN_ORIGIN?.trim();
  const rpIdText = env.STINT_WEBAUTHN_RP_ID?.trim();
  if (!originText) {
    if (rpIdText) throw new Error('STINT_WEBAUTHN_RP_ID is set but STINT_WEBAUTHN_ORIGIN is not: set both');
    return { maxAgeSeconds, issuer: 'Stint', webauthn: null };
  }
  let origin: URL;
  try {
    origin = new URL(originText);
  } catch {
    throw new Error(`STINT_WEBAUTHN_ORIGIN: "${originText}" is not a URL (e.g. https://stint.example.com)`);
  }
  if (origin.origin !== originText.replace(/\/+$/, '')) {
    throw new Error(`STINT_WEBAUTHN_ORIGIN must be an origin only (scheme, host, port), got "${originText}"`);
  }
  const local = origin.hostname === 'localhost';
  if (origin.protocol !== 'https:' && !(local && origin.protocol === 'http:')) {
    throw new Error(
      'STINT_WEBAUTHN_ORIGIN must use https (browsers allow WebAuthn over http on localhost only)',
    );
  }
  const rpId = rpIdText || origin.hostname;
  // The WebAuthn rule: the RP id is the origin's host or a registrable suffix of it.
  if (origin.hostname !== rpId && !origin.hostname.endsWith(`.${rpId}`)) {
    throw new Error(`STINT_WEBAUTHN_RP_ID "${rpId}" must be ${origin.hostname} or a parent domain of it`);
  }
  return { maxAgeSeconds, issuer: 'Stint', webauthn: { rpId, origin: origin.origin, rpName: 'Stint' } };
}
