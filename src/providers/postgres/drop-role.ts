import { type Admin, ident, withConnection } from './connect.js';

/**
 * Drops the role once nothing of it runs: what it owns goes to the first role it was granted (so a table made
 * during an incident stays with the team), or to the admin role when it was granted none.
 * Returns false when a session slipped in, so the caller terminates again.
 */
export function dropRole(admin: Admin, principal: string, signal: AbortSignal): Promise<boolean> {
  const role = ident(principal);
  return withConnection(admin, signal, async (client) => {
    await client.query('BEGIN');
    try {
      const { rows } = await client.query<{ heir: string }>(
        `SELECT coalesce((SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
                          WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = $1)
                          ORDER BY m.ctid LIMIT 1), current_user) AS heir`,
        [principal],
      );
      const heir = rows[0]?.heir as string;
      await client.query(`REASSIGN OWNED BY ${role} TO ${ident(heir)}`);
      await client.query(`DROP OWNED BY ${role}`);
      // Dropping a role that still has a backend would orphan that session (its usename turns NULL): never do it.
      const live = await client.query('SELECT 1 FROM pg_stat_activity WHERE usename = $1 LIMIT 1', [
        principal,
      ]);
      if (live.rows.length > 0) {
        await client.query('ROLLBACK');
        return false;
      }
      await client.query(`DROP ROLE ${role}`);
      await client.query('COMMIT');
      return true;
    } catch (err) {
      // The connection is discarded after a failure (withConnection), which rolls back server-side anyway.
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  });
}
