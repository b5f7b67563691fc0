import type { AwsTarget } from '../aws-target.js';
import type { PsEntry } from './ps-ledger.js';

/**
 * Whether a record still claims its assignment: until its window's end. A record past it (its store never revoked
 * it: crashed for good, removed) no longer keeps a user's assignment alive for anyone else.
 */
export const claimsNow = (t: AwsTarget, e: PsEntry) => t.now() < e.until * 1000;

/** Live claims of any store on the same user's assignment, other than the given principal of this store. */
export function otherClaims(t: AwsTarget, entries: PsEntry[], userId: string, principal: string): PsEntry[] {
  const { accountId } = t.config.options.mode === 'permission-set' ? t.config.options : { accountId: '' };
  return entries.filter(
    (e) =>
      e.userId === userId &&
      e.accountId === accountId &&
      claimsNow(t, e) &&
      !(e.principal === principal && e.storeId === t.owner.storeId),
  );
}
