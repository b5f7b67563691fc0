import { StintError } from '../../domain/errors.js';
import type { IssueRequest, IssueResult, RevokeResult } from '../provider.js';
import type { Admin } from './connect.js';
import { CreateAccountFailed, createAccount } from './create-account.js';
import { cannotSeeSessions, killThread } from './kill-sessions.js';
import { type AccountState, isOwn, readAccount } from './marks.js';
import { principalFor } from './principal-name.js';
import { removeAccount } from './remove-account.js';

/** What undoing a failed issuance may take, on its own deadline: the caller's may be spent. */
const UNDO_DEADLINE_MS = 15_000;

type Revoke = (principal: string, signal: AbortSignal) => Promise<RevokeResult>;

/**
 * All or nothing: checks first (one role, no clash with an account that is not this request's), clears what an
 * earlier attempt for the same request left, then creates the account. Any failure after the mark went out is
 * undone from the mark; when a statement was cut in flight, its admin thread is killed and waited out first, so
 * nothing it was still doing lands after the undo looked.
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
  const refuse = (why: string) =>
    new StintError('PROVIDER_ERROR', `mariadb target ${resourceId}: ${action}: ${why}`, {
      resource: resourceId,
      class: 'refused',
    });
  if (Number.isNaN(request.expiresAt.getTime())) throw refuse('invalid expiry');
  const roles = request.grants.filter((g) => g.length > 0);
  const role = roles[0];
  // The policy's grants schema allows exactly one; a caller that bypassed it is refused before anything is made.
  if (role === undefined || roles.length !== 1) {
    throw refuse(
      `grants must name exactly one role (got ${roles.length}): MariaDB starts a session in one default role`,
    );
  }

  let found: AccountState;
  try {
    found = await readAccount(admin, principal, signal);
  } catch (err) {
    throw admin.fail(action, err, signal);
  }
  // What could not be fully revoked is not issued.
  if (!found.seesSessions) throw cannotSeeSessions(admin, action);
  if (found.mark !== null || found.accounts > 0) {
    // An account of this name is what an earlier attempt for the same request left; anything else is a name
    // clash (ids that differ only in case or punctuation, another store, a hand-made account) and is not touched.
    if (!isOwn(found.mark, admin.owner) || found.mark?.requestId !== request.requestId) {
      throw refuse('an account of that name exists for another request or was not made by this Stint store');
    }
    await revoke(principal, signal);
  }
  if (admin.config.expiryEvent && found.scheduler !== 'ON') warnNoBackstop(admin, found.scheduler);

  try {
    return await createAccount(
      admin,
      { requestId: request.requestId, principal, role, expiresAt: request.expiresAt },
      signal,
    );
  } catch (err) {
    if (!(err instanceof CreateAccountFailed)) throw admin.fail(action, err, signal);
    if (err.marked) await undo(admin, request.requestId, principal, err.threadId, err.eventMayExist);
    throw admin.fail(action, err.failure, signal, err.secrets);
  }
}

/** Removes what a failed issuance left, if the mark says it is this store's and this request's. */
async function undo(
  admin: Admin,
  requestId: string,
  principal: string,
  threadId: number | undefined,
  eventMayExist: boolean,
): Promise<void> {
  const signal = AbortSignal.timeout(UNDO_DEADLINE_MS);
  try {
    if (threadId !== undefined) await killThread(admin, threadId, signal);
    const { mark, seesSessions } = await readAccount(admin, principal, signal);
    // No mark of ours: the INSERT never landed (or was refused as another request's), so nothing else did either.
    if (mark === null || !isOwn(mark, admin.owner) || mark.requestId !== requestId) return;
    await removeAccount(admin, principal, mark.host, seesSessions, eventMayExist, signal);
  } catch (e) {
    admin.logger?.warn(
      { resource: admin.config.resourceId, principal, error: admin.fail('cleanup', e, signal).message },
      'mariadb issue cleanup failed; reconciliation removes what is left',
    );
  }
}

const warned = new WeakSet<Admin>();

/** Once per provider: the EVENTs are created but will not run, so only Stint ends the windows on this target. */
function warnNoBackstop(admin: Admin, scheduler: string): void {
  if (warned.has(admin)) return;
  warned.add(admin);
  admin.logger?.warn(
    { resource: admin.config.resourceId, eventScheduler: scheduler },
    'mariadb event_scheduler is not ON: expiry EVENTs will not run, so nothing on the target ends a window if Stint is down at its end',
  );
}
