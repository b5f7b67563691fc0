import { createHash } from 'node:crypto';

/** Every account Stint creates starts with this; the metadata row, not the name, says it is Stint's. */
export const PRINCIPAL_PREFIX = 'stint_';

/** MySQL's limit for a user name (MariaDB allows 80): names stay valid on both, and fit the metadata column. */
const MAX_USER_CHARS = 32;
const HASH_CHARS = 10;

/**
 * `stint_<request id>`, lowercased, anything outside [a-z0-9_] turned into `_`. Deterministic, so a retry after a
 * crash finds what the earlier attempt left. An id too long to fit keeps a prefix and gains a hash of the whole
 * id, so two long ids sharing a prefix still get distinct names. One account per request: two grants of one
 * person on one resource are two accounts, and revoking one never ends the other.
 */
export function principalFor(requestId: string): string {
  const name = PRINCIPAL_PREFIX + requestId.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  if (requestId.length > 0 && name.length <= MAX_USER_CHARS) return name;
  const hash = createHash('sha256').update(requestId).digest('hex').slice(0, HASH_CHARS);
  return `${name.slice(0, MAX_USER_CHARS - HASH_CHARS - 1)}_${hash}`;
}

/** Whether a name could have come from principalFor: nothing else is ever quoted into a statement or touched. */
export function isPrincipalName(name: string): boolean {
  return name.length <= MAX_USER_CHARS && /^stint_[a-z0-9_]+$/.test(name);
}

/** The EVENT that drops the account at the window's end (64 characters at most; a principal has 32). */
export function expiryEventName(principal: string): string {
  return `expire_${principal}`;
}
