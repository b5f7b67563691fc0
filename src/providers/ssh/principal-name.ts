import { createHash } from 'node:crypto';
import type { TargetOwner } from '../provider.js';

/**
 * What Stint calls the issued credential of a request on an SSH resource: `stint-<request id>`. Not a
 * certificate principal (those are the role's grants, the names hosts accept): the name of the grant in the
 * ledger, the audit trail and `stint show`.
 */
export const PRINCIPAL_PREFIX = 'stint-';
const MAX_PRINCIPAL = 80;
const HASH_CHARS = 10;

/** Deterministic, so a retry after a crash finds what the earlier attempt left in the ledger. */
export function principalFor(requestId: string): string {
  const name = PRINCIPAL_PREFIX + requestId.replace(/[^A-Za-z0-9_-]/g, '_');
  if (
    requestId.length > 0 &&
    name.length <= MAX_PRINCIPAL &&
    name.slice(PRINCIPAL_PREFIX.length) === requestId
  ) {
    return name;
  }
  // Ids that had to be changed (or cut) gain a hash of the whole id, so two of them never share a name.
  const hash = createHash('sha256').update(requestId).digest('hex').slice(0, HASH_CHARS);
  return `${name.slice(0, MAX_PRINCIPAL - HASH_CHARS - 1)}_${hash}`;
}

/** Whether a name could have come from principalFor: revoke refuses anything else. */
export function isPrincipalName(name: string): boolean {
  return name.length <= MAX_PRINCIPAL && /^stint-[A-Za-z0-9_-]+$/.test(name);
}

/**
 * The certificate's key id, `stint:request=<id>;deployment=<name>;store=<store id>` (the tag PostgreSQL roles
 * carry as their comment): sshd logs it with every login, so a host's auth log names the request, and a KRL
 * revokes by it. The store id is what ownership rests on; the CA's signature is what makes it unforgeable.
 */
export function keyIdFor(requestId: string, owner: TargetOwner): string {
  return `stint:request=${requestId};deployment=${owner.deployment};store=${owner.storeId}`;
}
