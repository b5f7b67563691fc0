import { account, ident, literal } from './connect.js';
import { MARKS, META_SCHEMA } from './marks.js';
import { expiryEventName } from './principal-name.js';

/** `YYYY-MM-DD HH:MM:SS` in UTC: the admin session's time zone (connect.ts), so the EVENT fires at that instant. */
export function utcDateTime(at: Date): string {
  return at.toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * The target's own backstop for the window: MariaDB has no `VALID UNTIL`, so an EVENT (run by the scheduler as
 * Stint's admin account, its definer) drops the account at the window's end, kills its connections and removes
 * the mark, even if Stint is down then. It does nothing while `event_scheduler` is OFF (docs/mariadb-target.md).
 */
export function expiryEventSql(principal: string, host: string, storeId: string, expiresAt: Date): string {
  const name = `${ident(META_SCHEMA)}.${ident(expiryEventName(principal))}`;
  return `CREATE EVENT ${name} ON SCHEDULE AT ${literal(utcDateTime(expiresAt))} ON COMPLETION NOT PRESERVE
    COMMENT ${literal(`stint: drops ${principal} at the end of its window`)}
    DO BEGIN
      DROP USER IF EXISTS ${account(principal, host)};
      KILL CONNECTION USER ${literal(principal)};
      DELETE FROM ${MARKS} WHERE user = ${literal(principal)} AND store_id = ${literal(storeId)};
    END`;
}
