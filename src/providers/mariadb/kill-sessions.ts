import { setTimeout as sleep } from 'node:timers/promises';
import { StintError } from '../../domain/errors.js';
import { type Admin, query, type Row } from './connect.js';
import { ER_NO_SUCH_THREAD, serverErrno } from './mariadb-errors.js';

/** How long to wait for killed connections to go before reporting failure. */
const SESSION_END_TIMEOUT_MS = 5_000;
/**
 * A login that passed the account check just before DROP USER shows as "unauthenticated user" until it completes:
 * the list must come back empty twice, this far apart, before the sessions count as ended.
 */
const SETTLE_MS = 10;

interface ThreadRow extends Row {
  id: number | string;
}

/**
 * KILLs every connection the `where` clause matches, again and again, until the process list shows none twice
 * in a row. Returns how many distinct connections were killed.
 */
async function killUntilGone(
  admin: Admin,
  where: string,
  param: string | number,
  what: string,
  signal: AbortSignal,
): Promise<number> {
  const deadline = Date.now() + SESSION_END_TIMEOUT_MS;
  const killed = new Set<number>();
  let delay = 1;
  let emptyReads = 0;
  for (;;) {
    const rows = await query<ThreadRow>(
      admin,
      signal,
      `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE ${where}`,
      [param],
    );
    if (rows.length === 0) {
      if (++emptyReads === 2) return killed.size;
      await sleep(SETTLE_MS, undefined, { signal });
      continue;
    }
    emptyReads = 0;
    for (const r of rows) {
      const id = Number(r.id);
      killed.add(id);
      // Ids come from the server as integers; KILL takes no placeholder.
      await query(admin, signal, `KILL CONNECTION ${Math.trunc(id)}`).catch((err: unknown) => {
        if (serverErrno(err) !== ER_NO_SUCH_THREAD) throw err;
      });
    }
    if (Date.now() > deadline) {
      const { resourceId } = admin.config;
      throw new StintError(
        'PROVIDER_ERROR',
        `mariadb target ${resourceId}: ${rows.length} connection(s) of ${what} still alive ${SESSION_END_TIMEOUT_MS} ms after KILL`,
        { resource: resourceId, class: 'transient' },
      );
    }
    await sleep(delay, undefined, { signal });
    delay = Math.min(delay * 2, 20);
  }
}

/** Ends every connection of the user name, from any host, whether or not the account still exists. */
export function killSessions(admin: Admin, principal: string, signal: AbortSignal): Promise<number> {
  return killUntilGone(admin, 'USER = ?', principal, principal, signal);
}

/**
 * Ends one of Stint's own admin connections (cut while a statement was in flight) and waits until it is gone, so
 * whatever it was doing has finished for good before an undo looks.
 */
export async function killThread(admin: Admin, threadId: number, signal: AbortSignal): Promise<void> {
  await killUntilGone(admin, 'ID = ?', threadId, `admin connection ${threadId}`, signal);
}

/** The admin account cannot see other accounts' sessions: nothing may be concluded about them. */
export function cannotSeeSessions(admin: Admin, what: string): StintError {
  const { resourceId } = admin.config;
  return new StintError(
    'PROVIDER_ERROR',
    `mariadb target ${resourceId}: ${what}: the admin account lacks PROCESS, so the process list hides the account's sessions (docs/mariadb-target.md)`,
    { resource: resourceId, class: 'privilege' },
  );
}
