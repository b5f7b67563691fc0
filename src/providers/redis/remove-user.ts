import { clientsOf, killClientsOf } from './clients.js';
import type { Session } from './connect.js';

export interface Removed {
  /** False when there was no such user (revoked before, or never created). */
  existed: boolean;
  sessionsEnded: number;
}

/**
 * Ends a user on one admin session: its connections killed until none is left, the user deleted, the ACLs saved,
 * then checked that no connection of it remains.
 *
 * `ACL DELUSER` itself disconnects every connection of the user, so one that logs in between the last kill and
 * the delete is ended too. The save runs even when the user was already gone: a revoke whose save failed left it
 * deleted in memory but present in the aclfile, and a restart would bring it back.
 */
export async function removeUser(session: Session, user: string, signal: AbortSignal): Promise<Removed> {
  const ended = await killClientsOf(session, user, signal);
  const deleted = Number(await session.call('ACL', 'DELUSER', user));
  await session.call('ACL', 'SAVE');
  const left = await clientsOf(session, user);
  if (left > 0) throw new Error(`${left} connection(s) of ${user} still open after ACL DELUSER`);
  return { existed: deleted > 0 || ended !== null, sessionsEnded: ended ?? 0 };
}
