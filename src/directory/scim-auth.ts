import { createHash, timingSafeEqual } from 'node:crypto';

/** Decides whether a bearer token presented on /scim/v2 belongs to the provisioning IdP. */
export type ScimAuthenticator = (token: string) => boolean | Promise<boolean>;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** The slice of the API token store a scoped-token authenticator needs (src/auth/token-store.ts `check`). */
export interface TokenChecker {
  check(token: string, now: Date): Promise<{ ok: true; scopes: readonly string[] | null } | { ok: false }>;
}

/**
 * An API token carrying the `scim` scope (made with `stint admin token create --scope scim`): expiring,
 * revocable, stored hashed, like every other API token. A full-power token (no scopes) is not accepted here:
 * the IdP gets a credential that can provision people and do nothing else.
 */
export function scopedScimToken(tokens: TokenChecker, clock: () => Date): ScimAuthenticator {
  return async (token) => {
    const r = await tokens.check(token, clock());
    return r.ok && r.scopes?.includes('scim') === true;
  };
}

/** Accepts what any of `authenticators` accepts: for moving an IdP from the shared secret to a scoped token. */
export function anyScimAuthenticator(...authenticators: ScimAuthenticator[]): ScimAuthenticator {
  return async (token) => {
    for (const a of authenticators) if (await a(token)) return true;
    return false;
  };
}

/**
 * One shared secret given to the IdP (STINT_SCIM_TOKEN). Both sides are hashed first so the comparison is
 * constant-time whatever the lengths. Replaced by scoped API tokens (scope `scim`) once those exist: pass an
 * authenticator that looks the token up instead.
 */
export function staticScimToken(secret: string): ScimAuthenticator {
  if (secret.length < 32) {
    throw new Error('STINT_SCIM_TOKEN must be at least 32 characters (e.g. `openssl rand -hex 32`)');
  }
  const expected = digest(secret);
  return (token) => timingSafeEqual(digest(token), expected);
}
