import { createHash } from 'node:crypto';

/** Every principal Stint names on a Vault target starts with this. */
export const PRINCIPAL_PREFIX = 'stint-';

/** Kept short enough for a KV path segment, a token display name and a log line. */
const MAX_NAME = 96;
const HASH_CHARS = 10;

/**
 * `stint-<request id>`, lowercased, anything outside [a-z0-9_-] turned into `_`. Deterministic, so a retry after a
 * crash finds the marker an earlier attempt left. An id too long to fit keeps a prefix and gains a hash of the
 * whole id. It names the marker (and the issuing token's display name); the leases themselves are Vault's ids.
 */
export function principalFor(requestId: string): string {
  const name = PRINCIPAL_PREFIX + requestId.toLowerCase().replace(/[^a-z0-9_-]/g, '_');
  if (requestId.length > 0 && name.length <= MAX_NAME) return name;
  const hash = createHash('sha256').update(requestId).digest('hex').slice(0, HASH_CHARS);
  return `${name.slice(0, MAX_NAME - HASH_CHARS - 1)}_${hash}`;
}

/** Whether a name could have come from principalFor: revoke refuses to touch anything else. */
export function isPrincipalName(name: string): boolean {
  return name.length <= MAX_NAME && /^stint-[a-z0-9_-]+$/.test(name);
}
