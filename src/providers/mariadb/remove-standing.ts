import type { RemoveStandingRequest } from '../provider.js';
import { refusedStanding, roleOfStandingGrant } from '../standing-grant.js';
import { type Admin, account, ident, query, type Row } from './connect.js';
import { MARKS } from './marks.js';

/** `'user'@'host'` as listStanding prints it, back into its parts. */
function parseAccount(principal: string): { user: string; host: string } | null {
  const match = /^'((?:[^']|'')*)'@'((?:[^']|'')*)'$/.exec(principal);
  if (!match) return null;
  return { user: (match[1] ?? '').replaceAll("''", "'"), host: (match[2] ?? '').replaceAll("''", "'") };
}

/**
 * Takes a standing role away from an account: `REVOKE <role> FROM <account>`, which ADMIN OPTION on the role (the
 * documented setup's team roles) allows. Refused, before anything changes: an account Stint marked, Stint's own
 * admin account, an account or role that does not exist, a role held only through another role.
 */
export async function removeStanding(
  admin: Admin,
  { principal, privilege }: RemoveStandingRequest,
  signal: AbortSignal,
): Promise<void> {
  const resource = admin.config.resourceId;
  const role = roleOfStandingGrant('mariadb', resource, privilege, 'role');
  const who = parseAccount(principal);
  if (!who) throw refusedStanding('mariadb', resource, `${principal} is not an account like 'user'@'host'`);
  const [me] = await query<Row>(admin, signal, 'SELECT CURRENT_USER() AS me');
  if (String(me?.me ?? '') === `${who.user}@${who.host}`)
    throw refusedStanding('mariadb', resource, `${principal} is Stint's own admin account`);
  const users = await query<Row>(admin, signal, 'SELECT User FROM mysql.user WHERE User = ? AND Host = ?', [
    who.user,
    who.host,
  ]);
  if (users.length === 0) throw refusedStanding('mariadb', resource, `there is no account ${principal}`);
  const marked = await query<Row>(admin, signal, `SELECT user FROM ${MARKS} WHERE user = ? AND host = ?`, [
    who.user,
    who.host,
  ]);
  if (marked.length > 0)
    throw refusedStanding('mariadb', resource, `${principal} was made by Stint: revoke its request instead`);
  const mappings = await query<Row>(admin, signal, 'SELECT User, Host, Role FROM mysql.roles_mapping');
  const rolesOf = (user: string, host: string) =>
    mappings.filter((m) => m.User === user && m.Host === host).map((m) => String(m.Role));
  const direct = rolesOf(who.user, who.host);
  // Revoking the direct grant would change the target and still leave the role: refuse before either.
  const seen = new Set<string>();
  const queue = direct.filter((r) => r !== role);
  while (queue.length > 0) {
    const next = queue.shift() as string;
    if (next === role) {
      throw refusedStanding(
        'mariadb',
        resource,
        `${principal} also holds ${role} through another role: revoke that grant by hand first`,
      );
    }
    if (seen.has(next)) continue;
    seen.add(next);
    queue.push(...rolesOf(next, ''));
  }
  // Already gone (a retry after the revoke): nothing to do, the caller's re-list verifies.
  if (!direct.includes(role)) return;
  await query(admin, signal, `REVOKE ${ident(role)} FROM ${account(who.user, who.host)}`);
}
