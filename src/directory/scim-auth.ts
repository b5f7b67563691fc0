import { createHash, timingSafeEqual } from 'node:crypto';

/** Decides whether a bearer token presented on /scim/v2 belongs to the provisioning IdP. */
export type ScimAuthenticator = (token: string) => boolean | Promise<boolean>;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * One shared secret given to the IdP (STINT_SCIM_TOKEN). Both sides are hashed first so the comparison is
 * constant-time whatever the lengths. API tokens are never accepted here: there is no `scim` scope, so a
 * person cannot mint a provisioning credential for themselves.
 */
export function staticScimToken(secret: string): ScimAuthenticator {
  if (secret.length < 32) {
    throw new Error('STINT_SCIM_TOKEN must be at least 32 characters (e.g. `openssl rand -hex 32`)');
  }
  const expected = digest(secret);
  return (token) => timingSafeEqual(digest(token), expected);
}
