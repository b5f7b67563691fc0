/** `amr` values (RFC 8176) that mean a second factor or a phishing-resistant key was used. */
const MFA_AMR = new Set(['mfa', 'otp', 'hwk', 'swk', 'pop', 'sc', 'fpt', 'face', 'iris', 'retina', 'vbm']);

/**
 * When the provider verified a second factor, from ID-token claims: `auth_time` (or `iat` without it) when
 * `amr` shows MFA or `acr` is one the deployment trusts; otherwise null. Pure, so the rule is tested alone.
 */
export function mfaAtFromClaims(claims: Record<string, unknown>, trustedAcr: readonly string[]): Date | null {
  const amr = Array.isArray(claims.amr) ? claims.amr.filter((v): v is string => typeof v === 'string') : [];
  const acr = typeof claims.acr === 'string' ? claims.acr : null;
  const mfa = amr.some((v) => MFA_AMR.has(v)) || (acr !== null && trustedAcr.includes(acr));
  if (!mfa) return null;
  const at = typeof claims.auth_time === 'number' ? claims.auth_time : claims.iat;
  return typeof at === 'number' ? new Date(at * 1000) : null;
}

/**
 * When the provider last authenticated the person: `auth_time` only. `iat` is when a token was issued, which a
 * provider does silently from its own session, so it says nothing about a fresh sign-in.
 */
export function authAtFromClaims(claims: Record<string, unknown>): Date | null {
  return typeof claims.auth_time === 'number' ? new Date(claims.auth_time * 1000) : null;
}
