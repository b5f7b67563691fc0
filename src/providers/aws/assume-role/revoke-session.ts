import { StintError } from '../../../domain/errors.js';
import { permanentProviderError, type RevokeResult } from '../../provider.js';
import type { AwsTarget } from '../aws-target.js';
import { isOwn } from '../ledger.js';
import { isPrincipalName } from '../principal-name.js';
import { deleteDeny, deniesRequest, putDeny, readDeny, revokedDocument } from './deny-policy.js';
import type { RoleIndex } from './find-entries.js';
import { dropEntry, type RoleEntry, writeEntry } from './role-ledger.js';

/**
 * Past its window's end plus this, a session has ended by AWS's own clock: the session was asked for no longer than
 * the window, and this covers the time AssumeRole took to arrive.
 */
export const SESSION_END_MARGIN_S = 60;

export const sessionOver = (t: AwsTarget, e: RoleEntry) => t.now() >= (e.until + SESSION_END_MARGIN_S) * 1000;

/**
 * Ends a grant's sessions before their own end: an inline deny on the role for that request's session tags, then
 * the record marked revoked (kept, with the deny, until the window has passed and the reconciler clears both). A
 * session already past its end needs no deny: its record goes. Only this store's records are touched.
 */
export async function revokeSession(
  t: AwsTarget,
  index: RoleIndex,
  principal: string,
  signal: AbortSignal,
): Promise<RevokeResult> {
  const id = t.config.resourceId;
  if (!isPrincipalName(principal))
    throw permanentProviderError(`aws target ${id}: "${principal}" is not a Stint principal name`, {
      resource: id,
    });
  const entries = await index.find(t, principal, signal);
  const mine = entries.filter((e) => isOwn(e, t.owner));
  const theirs = entries.find((e) => !isOwn(e, t.owner));
  if (mine.length === 0) {
    if (theirs) {
      throw new StintError(
        'PROVIDER_ERROR',
        `aws target ${id}: refusing to revoke ${principal}: another Stint store (${theirs.storeId}, deployment ${theirs.deployment || 'unnamed'}) issued it`,
        { resource: id, class: 'refused' },
      );
    }
    return { outcome: 'absent' };
  }
  let revoked = false;
  for (const e of mine) {
    if (e.state === 'revoked') {
      // Recorded revoked only after the deny was put; put again if someone removed it before the window's end.
      if (sessionOver(t, e)) continue;
      const current = await readDeny(t, e.roleName, principal, signal);
      if (!deniesRequest(current, t.owner.storeId))
        await putDeny(
          t,
          e.roleName,
          principal,
          revokedDocument(e.requestId, t.owner.storeId),
          signal,
          current,
        );
      continue;
    }
    revoked = true;
    if (sessionOver(t, e)) {
      await deleteDeny(t, e.roleName, principal, signal);
      await dropEntry(t, e.roleName, principal, signal);
      continue;
    }
    // The deny first: a failure after it leaves the record live, and the retry puts it again.
    await putDeny(t, e.roleName, principal, revokedDocument(e.requestId, t.owner.storeId), signal);
    await writeEntry(t, { ...e, state: 'revoked' }, signal);
  }
  return { outcome: revoked ? 'revoked' : 'absent' };
}

/** Gone: every record of this store's is past its session's end, or revoked with its deny in force. */
export async function sessionGone(
  t: AwsTarget,
  index: RoleIndex,
  principal: string,
  signal: AbortSignal,
): Promise<boolean> {
  if (!isPrincipalName(principal)) return true;
  for (const e of (await index.find(t, principal, signal)).filter((x) => isOwn(x, t.owner))) {
    if (sessionOver(t, e)) continue;
    if (e.state === 'live') return false;
    if (!deniesRequest(await readDeny(t, e.roleName, principal, signal), t.owner.storeId)) return false;
  }
  return true;
}
