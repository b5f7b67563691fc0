import { createHash } from 'node:crypto';

/** Every session name and ledger entry Stint makes starts with this; the ledger's store id is the real mark. */
export const PRINCIPAL_PREFIX = 'stint-';
/** STS's limit on RoleSessionName. */
const MAX_NAME = 64;
const HASH_CHARS = 10;

/**
 * `stint-<request id>`, anything outside what both a RoleSessionName and a tag key accept turned into `_`.
 * Deterministic, so a retry after a crash finds what an earlier attempt left; an id too long keeps a prefix and
 * gains a hash of the whole id.
 */
export function principalFor(requestId: string): string {
  const name = PRINCIPAL_PREFIX + requestId.replace(/[^A-Za-z0-9_+=.@-]/g, '_');
  if (requestId.length > 0 && name.length <= MAX_NAME) return name;
  const hash = createHash('sha256').update(requestId).digest('hex').slice(0, HASH_CHARS);
  return `${name.slice(0, MAX_NAME - HASH_CHARS - 1)}_${hash}`;
}

/** Whether a name could have come from principalFor: revoke refuses to touch anything else. */
export function isPrincipalName(name: string): boolean {
  return name.length <= MAX_NAME && /^stint-[A-Za-z0-9_+=.@-]+$/.test(name);
}
