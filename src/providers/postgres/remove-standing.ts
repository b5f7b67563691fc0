import type { RemoveStandingRequest } from '../provider.js';
import { refusedStanding, roleOfStandingGrant } from '../standing-grant.js';
import { type Admin, ident, query } from './connect.js';
import { COMMENT_PREFIX, PRINCIPAL_PREFIX } from './principal-name.js';

/**
 * Takes a standing role membership away: `REVOKE <role> FROM <principal>`, which CREATEROLE (15) or ADMIN OPTION on
 * the role (16+, the documented setup's team roles) allows. Refused, before any statement that changes something:
 * a role Stint made (its own grants end with their window), Stint's own admin role, a principal that does not
 * exist, a role the principal holds only through another role (revoking the direct grant would not end it).
 */
export async function removeStanding(
  admin: Admin,
  { principal, privilege }: RemoveStandingRequest,
  signal: AbortSignal,
): Promise<void> {
  const resource = admin.config.resourceId;
  const role = roleOfStandingGrant('postgres', resource, privilege, 'member of');
  const { rows } = await query<{
    me: boolean;
    stint: boolean;
    direct: boolean | null;
    indirect: boolean | null;
    exists: boolean;
  }>(
    admin,
    signal,
    `SELECT r.rolname = current_user AS me,
            starts_with(r.rolname, $3) AND starts_with(coalesce(shobj_description(r.oid, 'pg_authid'), ''), $4) AS stint,
            EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                     WHERE m.member = r.oid AND g.rolname = $2) AS direct,
            EXISTS (WITH RECURSIVE reach(roleid) AS (
                      SELECT m.roleid FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                       WHERE m.member = r.oid AND g.rolname <> $2
                      UNION
                      SELECT m.roleid FROM reach x JOIN pg_auth_members m ON m.member = x.roleid)
                    SELECT 1 FROM reach x JOIN pg_roles g ON g.oid = x.roleid WHERE g.rolname = $2) AS indirect,
            EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2) AS exists
       FROM pg_roles r WHERE r.rolname = $1`,
    [principal, role, PRINCIPAL_PREFIX, COMMENT_PREFIX],
  );
  const row = rows[0];
  if (!row) throw refusedStanding('postgres', resource, `there is no role ${principal}`);
  if (row.me) throw refusedStanding('postgres', resource, `${principal} is Stint's own admin role`);
  if (row.stint)
    throw refusedStanding('postgres', resource, `${principal} was made by Stint: revoke its request instead`);
  if (!row.exists) throw refusedStanding('postgres', resource, `there is no role ${role}`);
  // Revoking the direct grant would change the target and still leave the privilege: refuse before either.
  if (row.indirect) {
    throw refusedStanding(
      'postgres',
      resource,
      `${principal} also holds ${role} through another role: revoke that grant by hand first`,
    );
  }
  // Already gone (a retry after the revoke committed): nothing to do, the caller's re-list verifies.
  if (!row.direct) return;
  await query(admin, signal, `REVOKE ${ident(role)} FROM ${ident(principal)}`);
}
