import { type Admin, account, ident, query } from './connect.js';
import { cannotSeeSessions, killSessions } from './kill-sessions.js';
import { ER_CANNOT_USER, serverErrno } from './mariadb-errors.js';
import { MARKS, META_SCHEMA } from './marks.js';
import { expiryEventName } from './principal-name.js';

/**
 * Removes an account this store marked, in the order that keeps the mark until nothing is left: DROP USER (no new
 * logins; an account already gone counts as dropped), every connection of the name killed until none remains
 * (one may open while the drop runs), then the expiry EVENT, then the mark itself. A crash anywhere leaves the
 * mark, so a retry finds the rest. Returns how many connections were killed.
 */
export async function removeAccount(
  admin: Admin,
  principal: string,
  host: string,
  /** The admin account holds PROCESS (readAccount): without it no session could be found, so none is claimed. */
  seesSessions: boolean,
  /** Whether an expiry EVENT may exist (expiryEvent is on, or an undo knows one was made). */
  dropEvent: boolean,
  signal: AbortSignal,
): Promise<number> {
  await query(admin, signal, `DROP USER ${account(principal, host)}`).catch((err: unknown) => {
    if (serverErrno(err) !== ER_CANNOT_USER) throw err;
  });
  // No new logins from here on; the sessions cannot be seen, so the revoke fails (and is retried) rather than
  // answering with sessions perhaps still open.
  if (!seesSessions) throw cannotSeeSessions(admin, `revoke ${principal}`);
  const killed = await killSessions(admin, principal, signal);
  // Only where one may exist: with expiryEvent off the admin account need not hold EVENT at all.
  if (dropEvent) {
    const event = `${ident(META_SCHEMA)}.${ident(expiryEventName(principal))}`;
    await query(admin, signal, `DROP EVENT IF EXISTS ${event}`);
  }
  await query(admin, signal, `DELETE FROM ${MARKS} WHERE user = ? AND store_id = ?`, [
    principal,
    admin.owner.storeId,
  ]);
  return killed;
}
