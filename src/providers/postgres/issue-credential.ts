import { StintError } from '../../domain/errors.js';
import type { IssueRequest, IssueResult } from '../provider.js';
import type { Admin } from './connect.js';
import { CreateRoleFailed, createRole, newRoleSecret } from './create-role.js';
import { parseComment, principalFor } from './principal-name.js';
import { type RoleTag, readRoleTag, unsafeGrants } from './tags.js';
import { terminateBackend } from './terminate-sessions.js';

/** What undoing an issuance of unknown outcome may take, on its own deadline: the caller's may be spent. */
const UNDO_DEADLINE_MS = 15_000;

type Revoke = (principal: string, signal: AbortSignal) => Promise<unknown>;

/**
 * All or nothing: checks first (no clash with another request's role, no grant that would outlive the revoke),
 * clears what an earlier attempt for the same request left, then creates the role in one transaction. When the
 * outcome of that transaction is unknown (connection cut, cancelled), the backend that ran it is ended and
 * waited out, then whatever it may have committed is revoked.
 */
export async function issueCredential(
  admin: Admin,
  request: IssueRequest,
  signal: AbortSignal,
  revoke: Revoke,
): Promise<IssueResult> {
  const { resourceId } = admin.config;
  const principal = principalFor(request.requestId);
  const action = `issue ${principal}`;
  if (Number.isNaN(request.expiresAt.getTime())) {
    throw new StintError('PROVIDER_ERROR', `postgres target ${resourceId}: ${action}: invalid expiry`);
  }
  const grants = request.grants.filter((g) => g.length > 0);

  // Off the critical path: the verifier's PBKDF2 runs while the two catalog reads, side by side, wait on the
  // target (they were three waits one after another, each a share of approve → credential).
  const secret = newRoleSecret();
  secret.catch(() => {});
  let leftover: RoleTag;
  let unsafe: string[];
  try {
    [leftover, unsafe] = await Promise.all([
      readRoleTag(admin, principal, signal),
      unsafeGrants(admin, grants, signal),
    ]);
  } catch (err) {
    throw admin.fail(action, err, signal);
  }
  if (unsafe.length > 0) {
    throw new StintError(
      'PROVIDER_ERROR',
      `postgres target ${resourceId}: ${action}: refusing to grant ${unsafe.join(', ')}: membership would let the user create or change roles that outlive the revoke`,
      { resource: resourceId },
    );
  }
  if (leftover.exists) {
    // A role of this name is what an earlier attempt for the same request left; anything else is a name clash
    // (ids that differ only in case or punctuation) and must not be touched.
    const tag = parseComment(leftover.comment);
    if (
      tag?.requestId !== request.requestId ||
      (tag.storeId !== null && tag.storeId !== admin.owner.storeId)
    ) {
      throw new StintError(
        'PROVIDER_ERROR',
        `postgres target ${resourceId}: ${action}: a role of that name exists for another request`,
        { resource: resourceId },
      );
    }
    await revoke(principal, signal);
  }

  try {
    return await createRole(
      admin,
      { requestId: request.requestId, principal, grants, expiresAt: request.expiresAt, secret: await secret },
      signal,
    );
  } catch (err) {
    if (!(err instanceof CreateRoleFailed)) throw admin.fail(action, err, signal);
    if (err.unknown) await undo(admin, principal, err.backendPid, revoke);
    throw admin.fail(action, err.failure, signal, err.secrets);
  }
}

async function undo(admin: Admin, principal: string, pid: number | undefined, revoke: Revoke): Promise<void> {
  const signal = AbortSignal.timeout(UNDO_DEADLINE_MS);
  try {
    // Until that backend is gone its transaction may still commit after our revoke looked.
    if (pid !== undefined) await terminateBackend(admin, pid, signal);
    await revoke(principal, signal);
  } catch (e) {
    admin.logger?.warn(
      { resource: admin.config.resourceId, principal, error: admin.fail('cleanup', e, signal).message },
      'postgres issue cleanup failed',
    );
  }
}
