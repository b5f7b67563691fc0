import type { PolicySource } from '../policy/policy-source.js';
import type { IdTokenClaims } from './oidc-client.js';

/** Maps verified ID-token claims to a directory user; null when nobody matches (the sign-in is refused). */
export type ResolveUser = (claims: IdTokenClaims) => Promise<{ userId: string } | null>;

/**
 * The YAML directory's resolver: the configured claim (default `email`, which must be verified when the
 * provider says) matched case-insensitively to a user's email.
 */
export function resolveByEmail(policy: PolicySource, claim = 'email'): ResolveUser {
  return async (claims) => {
    const value = claims[claim];
    if (typeof value !== 'string' || value === '') return null;
    if (claim === 'email' && claims.email_verified === false) return null;
    const wanted = value.toLowerCase();
    for (const user of policy.current().users.values()) {
      if (user.email.toLowerCase() === wanted) return { userId: user.id };
    }
    return null;
  };
}
