import type { RevokeResult } from '../provider.js';
import { type Admin, ident, query, withConnection } from './connect.js';
import { isPrincipalName, parseComment } from './principal-name.js';
import { revokeRole } from './revoke-role.js';
import { terminateSessionsOfEach } from './terminate-sessions.js';

/**
 * Ends many credentials of one target (up to MAX_REVOKE_BATCH) in a handful of statements instead of a dozen each: one read of their
 * tags, one NOLOGIN for all, one termination loop, one transaction that reassigns, drops what they own and drops
 * them. 500 expiries in the same second otherwise queue 500 sequences on a few admin connections. The checks are
 * revokeRole's: only roles this store made are in the batch; every other name (not Stint's, untagged, another
 * store's) and anything the batch cannot settle is answered by revokeRole alone, with its own precise outcome.
 */
export async function revokeRoles(
  admin: Admin,
  principals: readonly string[],
  signal: AbortSignal,
): Promise<(RevokeResult | Error)[]> {
  const answers = new Map<string, RevokeResult | Error>();
  const names = [...new Set(principals.filter(isPrincipalName))];
  const { rows } = await query<{ rolname: string; comment: string | null }>(
    admin,
    signal,
    "SELECT rolname, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = ANY($1)",
    [names],
  );
  const found = new Map(rows.map((r) => [r.rolname, r.comment]));
  const batch: string[] = [];
  for (const name of names) {
    if (!found.has(name)) {
      answers.set(name, { outcome: 'absent' });
      continue;
    }
    const tag = parseComment(found.get(name) ?? null);
    if (tag && (tag.storeId === null || tag.storeId === admin.owner.storeId)) batch.push(name);
  }
  if (batch.length > 0) {
    // A batch the target refused as a whole (a lock timeout, a catalog collision) is retried role by role below.
    const ended = await dropTogether(admin, batch, signal).catch((err: unknown) => {
      if (signal.aborted) throw err;
      return null;
    });
    if (ended)
      for (const name of batch)
        answers.set(name, { outcome: 'revoked', sessionsEnded: ended.get(name) ?? 0 });
  }
  // The rest one by one: refusals, names not Stint's, and a batch a late session kept from dropping.
  const out: (RevokeResult | Error)[] = [];
  for (const principal of principals) {
    let answer = answers.get(principal);
    if (!answer) {
      answer = await revokeRole(admin, principal, signal).catch((err: unknown) =>
        err instanceof Error ? err : new Error(String(err)),
      );
      answers.set(principal, answer);
    }
    out.push(answer);
  }
  return out;
}

/**
 * NOLOGIN, sessions ended, then one transaction: what each role owns goes to its first granted role (or the admin
 * role), then the roles go. Answers the sessions ended per role, or null when a session slipped in before the
 * drop (the transaction is rolled back; the caller then revokes each role alone, which retries per role).
 */
async function dropTogether(
  admin: Admin,
  roles: readonly string[],
  signal: AbortSignal,
): Promise<Map<string, number> | null> {
  const list = roles.map(ident).join(', ');
  await query(
    admin,
    signal,
    roles.map((r) => `ALTER ROLE ${ident(r)} NOLOGIN; GRANT ${ident(r)} TO CURRENT_USER`).join('; '),
  );
  const ended = await terminateSessionsOfEach(admin, roles, signal);
  return withConnection(admin, signal, async (client) => {
    await client.query('BEGIN');
    try {
      const { rows } = await client.query<{ principal: string; heir: string }>(
        `SELECT r.rolname AS principal,
                coalesce((SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                           WHERE m.member = r.oid ORDER BY m.ctid LIMIT 1), current_user) AS heir
           FROM pg_roles r WHERE r.rolname = ANY($1)`,
        [[...roles]],
      );
      const byHeir = new Map<string, string[]>();
      for (const r of rows) byHeir.set(r.heir, [...(byHeir.get(r.heir) ?? []), r.principal]);
      for (const [heir, owned] of byHeir) {
        await client.query(`REASSIGN OWNED BY ${owned.map(ident).join(', ')} TO ${ident(heir)}`);
      }
      await client.query(`DROP OWNED BY ${list}`);
      // Dropping a role that still has a backend would orphan that session: never do it.
      const live = await client.query('SELECT 1 FROM pg_stat_activity WHERE usename = ANY($1) LIMIT 1', [
        [...roles],
      ]);
      if (live.rows.length > 0) {
        await client.query('ROLLBACK');
        return null;
      }
      await client.query(`DROP ROLE ${list}`);
      await client.query('COMMIT');
      return ended;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  });
}
