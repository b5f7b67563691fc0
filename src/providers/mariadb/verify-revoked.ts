import { setTimeout as sleep } from 'node:timers/promises';
import { type Admin, query, type Row } from './connect.js';
import { cannotSeeSessions } from './kill-sessions.js';
import { SEES_SESSIONS_SQL } from './marks.js';

/**
 * A login refused for want of an account stays in the process list under the name it tried, in the `Connect`
 * phase, for a moment after the refusal (about 1 in 200 here): waited out this many times before concluding.
 */
const CONNECTING_CHECKS = 20;
const CONNECTING_WAIT_MS = 10;

interface CountRow extends Row {
  accounts: number | string;
  sessions: number | string;
  connecting: number | string;
  sees_sessions: number | string;
}

/**
 * Gone means no account of the name on any host and no connection under the name. Connections still in the
 * `Connect` phase (a refused login on its way out, or one that passed the account check just before the drop)
 * are waited on rather than ignored: the first kind vanishes within milliseconds, the second becomes a session.
 */
export async function verifyRevoked(admin: Admin, principal: string, signal: AbortSignal): Promise<boolean> {
  for (let check = 1; ; check++) {
    const [row] = await query<CountRow>(
      admin,
      signal,
      `SELECT (SELECT COUNT(*) FROM mysql.user WHERE User = ?) AS accounts,
              COUNT(p.ID) AS sessions,
              COALESCE(SUM(p.COMMAND = 'Connect'), 0) AS connecting,
              ${SEES_SESSIONS_SQL} AS sees_sessions
         FROM (SELECT 1) AS one LEFT JOIN information_schema.PROCESSLIST p ON p.USER = ?`,
      [principal, principal],
    );
    if (row === undefined) throw new Error('no answer to the verification');
    if (Number(row.sees_sessions) === 0) throw cannotSeeSessions(admin, `verify ${principal}`);
    const sessions = Number(row.sessions);
    if (Number(row.accounts) > 0) return false;
    if (sessions === 0) return true;
    if (Number(row.connecting) < sessions || check === CONNECTING_CHECKS) return false;
    await sleep(CONNECTING_WAIT_MS, undefined, { signal });
  }
}
