import { createPublicKey, type KeyObject, verify } from 'node:crypto';

/** The audience Google APIs expect in a self-signed JWT for the IAM API, whatever host it is sent to. */
export const IAM_AUDIENCE = 'https://iam.googleapis.com/';
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
/** Google refuses a self-signed JWT valid for longer than an hour. */
const MAX_LIFETIME_S = 3600;
const SKEW_S = 60;

export type JwtCheck = { ok: true; email: string } | { ok: false; why: string };

const b64json = (part: string): Record<string, unknown> | null => {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
};

/**
 * Checks a service account's self-signed JWT as Google's front end does for a bearer token: RS256 signed by the
 * key its `kid` names, issued by and for that account, for the IAM API's audience, and fresh.
 */
export function checkSelfSignedJwt(
  token: string,
  keys: ReadonlyMap<string, { email: string; publicKey: KeyObject | string }>,
  nowMs: number,
): JwtCheck {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, why: 'not a JWT' };
  const [h = '', p = '', s = ''] = parts;
  const header = b64json(h);
  const payload = b64json(p);
  if (!header || !payload) return { ok: false, why: 'unreadable JWT' };
  if (header.alg !== 'RS256') return { ok: false, why: 'JWT must be RS256' };
  const key = keys.get(String(header.kid));
  if (!key) return { ok: false, why: 'unknown key id' };
  const publicKey = typeof key.publicKey === 'string' ? createPublicKey(key.publicKey) : key.publicKey;
  if (!verify('RSA-SHA256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s, 'base64url')))
    return { ok: false, why: 'invalid JWT signature' };
  if (payload.iss !== key.email || payload.sub !== key.email)
    return { ok: false, why: 'JWT issuer is not the key’s account' };
  // Google takes either form of JWT access: for one API's audience, or for scopes (no audience).
  const scoped =
    payload.aud === undefined &&
    String(payload.scope ?? '')
      .split(' ')
      .includes(CLOUD_PLATFORM);
  if (payload.aud !== IAM_AUDIENCE && !scoped)
    return { ok: false, why: `JWT audience must be ${IAM_AUDIENCE}, or its scope cloud-platform` };
  const now = Math.floor(nowMs / 1000);
  const iat = Number(payload.iat);
  const exp = Number(payload.exp);
  if (!(iat <= now + SKEW_S) || !(exp > now) || exp - iat > MAX_LIFETIME_S)
    return { ok: false, why: 'JWT expired or not yet valid' };
  return { ok: true, email: key.email };
}
