import { setTimeout as sleep } from 'node:timers/promises';
import { StintError } from '../../domain/errors.js';
import { type Admin, query } from './connect.js';

/** How long to wait for terminated sessions to go before reporting failure (the role stays, NOLOGIN). */
const SESSION_END_TIMEOUT_MS = 5_000;

/**
 * Signals every backend the `where` clause matches until none is left. Polls from here rather than using
 * `pg_terminate_backend(pid, timeout)`, which re-checks only every 100 ms (one session: ~102 ms against ~6 ms).
 * Returns how many distinct backends were signalled.
 */
async function terminateUntilGone(
  admin: Admin,
  where: string,
  param: string | number | string[],
  what: string,
  signal: AbortSignal,
): Promise<number> {
  return (await terminateEach(admin, where, param, what, signal)).size;
}

/** As terminateUntilGone, answering the backends signalled with each one's session user. */
async function terminateEach(
  admin: Admin,
  where: string,
  param: string | number | string[],
  what: string,
  signal: AbortSignal,
): Promise<Map<number, string>> {
  const deadline = Date.now() + SESSION_END_TIMEOUT_MS;
  const signalled = new Map<number, string>();
  let delay = 1;
  for (;;) {
    const { rows } = await query<{ pid: number; usename: string }>(
      admin,
      signal,
      `SELECT pid, usename, pg_terminate_backend(pid) FROM pg_stat_activity WHERE ${where}`,
      [param],
    );
    if (rows.length === 0) return signalled;
    for (const r of rows) signalled.set(r.pid, r.usename);
    if (Date.now() > deadline) {
      const { resourceId } = admin.config;
      throw new StintError(
        'PROVIDER_ERROR',
        `postgres target ${resourceId}: ${rows.length} session(s) of ${what} still alive ${SESSION_END_TIMEOUT_MS} ms after termination`,
        { resource: resourceId },
      );
    }
    await sleep(delay, undefined, { signal });
    delay = Math.min(delay * 2, 20);
  }
}

/**
 * Ends every session of `principal`. `usename` is the session user, so a session that did
 * `SET ROLE app_admin` is found too.
 */
export function terminateSessions(admin: Admin, principal: string, signal: AbortSignal): Promise<number> {
  return terminateUntilGone(admin, 'usename = $1', principal, principal, signal);
}

/**
 * Ends one of Stint's own admin backends (a connection given up mid-transaction) and waits until it is gone,
 * so whatever it was doing has either committed or rolled back for good.
 */
export async function terminateBackend(admin: Admin, pid: number, signal: AbortSignal): Promise<void> {
  await terminateUntilGone(admin, 'pid = $1', pid, `backend ${pid}`, signal);
}

/** Ends every session of each of `principals` at once; answers how many were ended per principal. */
export async function terminateSessionsOfEach(
  admin: Admin,
  principals: readonly string[],
  signal: AbortSignal,
): Promise<Map<string, number>> {
  const ended = new Map<string, number>();
  const signalled = await terminateEach(
    admin,
    'usename = ANY($1)',
    [...principals],
    `${principals.length} roles`,
    signal,
  );
  for (const user of signalled.values()) ended.set(user, (ended.get(user) ?? 0) + 1);
  return ended;
}
