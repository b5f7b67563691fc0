import type { TargetOwner } from '../provider.js';
import { type Admin, query, type Row } from './connect.js';

/**
 * The ownership table Stint writes beside every account it creates (docs/mariadb-target.md has its DDL).
 * MariaDB accounts carry no comment, so this row is the mark: written before CREATE USER, removed after DROP
 * USER, and only a row holding this store's id lets a provider touch the account.
 */
export const MARKS = 'stint_meta.principals';
export const META_SCHEMA = 'stint_meta';

/** Who a row says owns an account, and the request it was made for. */
export interface Mark {
  host: string;
  storeId: string;
  deployment: string;
  requestId: string;
}

/** An account name as the target has it: its mark (if any), and whether accounts of the name exist. */
export interface AccountState {
  mark: Mark | null;
  /** Accounts of this user name on any host. */
  accounts: number;
  /** Whether the account at the mark's host exists. */
  marked: boolean;
  /** `@@global.event_scheduler`: ON when the expiry EVENTs run. */
  scheduler: string;
  /** Whether the admin account holds PROCESS: without it the process list hides other accounts' sessions. */
  seesSessions: boolean;
}

/**
 * 1 when the admin account holds PROCESS. Without it the process list shows only its own connections, so "no
 * session left" would be read from a list that cannot show one: revoke and verify refuse to conclude that.
 * USER_PRIVILEGES lists the caller's own global privileges.
 */
export const SEES_SESSIONS_SQL = `(SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES
    WHERE PRIVILEGE_TYPE = 'PROCESS'
      AND GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), ''''))`;

export function isOwn(mark: Mark | null, owner: TargetOwner): boolean {
  return mark !== null && mark.storeId === owner.storeId;
}

interface StateRow extends Row {
  host: string | null;
  store_id: string | null;
  deployment: string | null;
  request_id: string | null;
  accounts: number | string;
  marked: number | string;
  scheduler: string;
  sees_sessions: number | string;
}

/** One round trip: the row (if any), the accounts of that name, and whether the scheduler runs. */
export async function readAccount(
  admin: Admin,
  principal: string,
  signal: AbortSignal,
): Promise<AccountState> {
  const rows = await query<StateRow>(
    admin,
    signal,
    `SELECT m.host, m.store_id, m.deployment, m.request_id,
            (SELECT COUNT(*) FROM mysql.user u WHERE u.User = ?) AS accounts,
            (SELECT COUNT(*) FROM mysql.user u WHERE u.User = ? AND u.Host = m.host) AS marked,
            @@global.event_scheduler AS scheduler,
            ${SEES_SESSIONS_SQL} AS sees_sessions
       FROM (SELECT 1) AS one LEFT JOIN ${MARKS} m ON m.user = ?`,
    [principal, principal, principal],
  );
  const r = rows[0];
  if (!r) throw new Error('no answer to the account lookup');
  const mark =
    r.host !== null && r.store_id !== null
      ? { host: r.host, storeId: r.store_id, deployment: r.deployment ?? '', requestId: r.request_id ?? '' }
      : null;
  return {
    mark,
    accounts: Number(r.accounts),
    marked: Number(r.marked) > 0,
    scheduler: String(r.scheduler),
    seesSessions: Number(r.sees_sessions) > 0,
  };
}

interface MarkedRow extends Row {
  user: string;
  store_id: string;
  deployment: string;
  request_id: string;
}

/** Every marked account that exists (a row whose account is gone is no access, and nobody's to reconcile). */
export async function markedAccounts(
  admin: Admin,
  signal: AbortSignal,
): Promise<{ principal: string; mark: Omit<Mark, 'host'> }[]> {
  const rows = await query<MarkedRow>(
    admin,
    signal,
    `SELECT m.user, m.store_id, m.deployment, m.request_id FROM ${MARKS} m
      WHERE EXISTS (SELECT 1 FROM mysql.user u WHERE u.User = m.user AND u.Host = m.host)
      ORDER BY m.user`,
  );
  return rows.map((r) => ({
    principal: r.user,
    mark: { storeId: r.store_id, deployment: r.deployment, requestId: r.request_id },
  }));
}
