import { setTimeout as sleep } from 'node:timers/promises';
import { StintError } from '../../domain/errors.js';
import type { IssueRequest, IssueResult } from '../provider.js';
import { refusal } from './acl-rules.js';
import { clientOpen, killClientsOf } from './clients.js';
import { type Admin, withSession } from './connect.js';
import { CreateUserFailed, createUser } from './create-user.js';
import { MAX_REQUEST_ID, principalName } from './principal-name.js';
import { removeUser } from './remove-user.js';

/** What undoing an issuance of unknown outcome may take, on its own deadline: the caller's may be spent. */
const UNDO_DEADLINE_MS = 15_000;

/**
 * All or nothing: checks the grants again (the policy checked them at load), clears what an earlier attempt for
 * the same request left (its name carries this store's mark and the request, so it can be no one else's), then
 * creates and saves the user. When the outcome is unknown (connection cut, cancelled), the admin connection that
 * sent it is ended and waited out, then whatever it may have created is removed.
 */
export async function issueCredential(
  admin: Admin,
  request: IssueRequest,
  signal: AbortSignal,
): Promise<IssueResult> {
  const { resourceId } = admin.config;
  const fault = (message: string) =>
    new StintError('PROVIDER_ERROR', `redis target ${resourceId}: ${message}`, {
      resource: resourceId,
      class: 'refused',
    });
  if (request.requestId.length === 0 || request.requestId.length > MAX_REQUEST_ID)
    throw fault(`issue: request id must be 1 to ${MAX_REQUEST_ID} characters`);
  const principal = principalName(admin.marks, request.requestId);
  const action = `issue ${principal}`;
  if (Number.isNaN(request.expiresAt.getTime())) throw fault(`${action}: invalid expiry`);
  const grants = request.grants.filter((g) => g.length > 0);
  // Not quoted: a grant refused for holding a password would otherwise put it in the message.
  grants.forEach((g, i) => {
    const why = refusal(g);
    if (why !== null) throw fault(`${action}: refusing grants[${i}]: ${why}`);
  });
  if (grants.length === 0) throw fault(`${action}: no ACL rule to grant`);

  let connection: number | undefined;
  let sent = false;
  try {
    return await withSession(admin, signal, async (session) => {
      connection = session.id;
      // Leftover of an earlier attempt for this same request: ended and removed before it is made again.
      if ((await killClientsOf(session, principal, signal)) !== null)
        await removeUser(session, principal, signal);
      sent = true;
      return await createUser(admin, session, principal, grants);
    });
  } catch (err) {
    if (err instanceof CreateUserFailed) {
      if (err.unknown) await undo(admin, principal, connection);
      throw admin.fail(`${action}: ${err.step}`, err.failure, signal, err.secrets);
    }
    // Cut or cancelled between sending SETUSER and its answer: handled above. Before it: nothing was made.
    if (sent) await undo(admin, principal, connection);
    throw admin.fail(action, err, signal);
  }
}

/**
 * Removes what an issuance of unknown outcome may have made. Until the admin connection that sent it is gone,
 * its SETUSER may still run after the delete: that connection is killed and waited out first.
 */
async function undo(admin: Admin, principal: string, connection: number | undefined): Promise<void> {
  const signal = AbortSignal.timeout(UNDO_DEADLINE_MS);
  try {
    await withSession(admin, signal, async (session) => {
      if (connection !== undefined) {
        await session.call('CLIENT', 'KILL', 'ID', String(connection));
        while (await clientOpen(session, connection)) await sleep(1, undefined, { signal });
      }
      await removeUser(session, principal, signal);
    });
  } catch (e) {
    admin.logger?.warn(
      { resource: admin.config.resourceId, principal, error: admin.fail('cleanup', e, signal).message },
      'redis issue cleanup failed; the reconciler removes what is left',
    );
  }
}
