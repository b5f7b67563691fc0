import type { AwsTarget } from '../aws-target.js';
import { createAssignment, deleteAssignment, isAssigned } from './assignments.js';
import { otherClaims } from './claims.js';
import { dropPsEntry, type PsEntry, psEntries, writePsEntry } from './ps-ledger.js';

export interface ReleaseOptions {
  /**
   * A creation was sent and its answer lost (cut, cancelled): it may still land after this looks. The deletion is
   * asked whether or not the assignment shows yet, and the record is kept, claiming nothing (its window set to
   * now), for the reconciler to finish once AWS has settled.
   */
  creationInDoubt?: Omit<PsEntry, 'fields'>;
}

/**
 * Ends one grant's claim on one permission set: the assignment is deleted unless another live grant (of this
 * store or another) holds the same user's assignment, then the record goes. Two grants of one person never cut
 * each other: if another claim appeared while the deletion ran (its issue found the assignment and relied on
 * it), the assignment is made again.
 */
export async function releaseClaim(
  t: AwsTarget,
  permissionSetArn: string,
  userId: string,
  principal: string,
  signal: AbortSignal,
  options: ReleaseOptions = {},
): Promise<void> {
  const ref = { permissionSetArn, userId };
  const doubt = options.creationInDoubt;
  let deleted = false;
  if (otherClaims(t, await psEntries(t, permissionSetArn, signal), userId, principal).length === 0) {
    // Deleting while a creation still runs is a conflict, waited out: the deletion then follows it.
    if (doubt || (await isAssigned(t, ref, signal))) {
      await deleteAssignment(t, ref, signal);
      deleted = true;
    }
  }
  if (doubt) await writePsEntry(t, { ...doubt, until: Math.floor(t.now() / 1000) - 1 }, signal);
  else await dropPsEntry(t, permissionSetArn, principal, signal);
  if (!deleted) return;
  if (otherClaims(t, await psEntries(t, permissionSetArn, signal), userId, principal).length > 0)
    await createAssignment(t, ref, signal);
}
