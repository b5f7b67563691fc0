import type { StandingPrincipal } from '../provider.js';
import { type Admin, type Row, withConnection } from './connect.js';
import { MARKS } from './marks.js';

/**
 * The global privilege columns of the `mysql.user` view that docs/mariadb-target.md lets `stint_admin` read (never
 * `Password` or `authentication_string`), as `SHOW GRANTS` spells each privilege.
 */
export const USER_PRIVILEGE_COLUMNS: Readonly<Record<string, string>> = {
  Select_priv: 'SELECT',
  Insert_priv: 'INSERT',
  Update_priv: 'UPDATE',
  Delete_priv: 'DELETE',
  Create_priv: 'CREATE',
  Drop_priv: 'DROP',
  Reload_priv: 'RELOAD',
  Shutdown_priv: 'SHUTDOWN',
  Process_priv: 'PROCESS',
  File_priv: 'FILE',
  References_priv: 'REFERENCES',
  Index_priv: 'INDEX',
  Alter_priv: 'ALTER',
  Show_db_priv: 'SHOW DATABASES',
  Super_priv: 'SUPER',
  Create_tmp_table_priv: 'CREATE TEMPORARY TABLES',
  Lock_tables_priv: 'LOCK TABLES',
  Execute_priv: 'EXECUTE',
  Repl_slave_priv: 'REPLICATION SLAVE',
  Repl_client_priv: 'BINLOG MONITOR',
  Create_view_priv: 'CREATE VIEW',
  Show_view_priv: 'SHOW VIEW',
  Create_routine_priv: 'CREATE ROUTINE',
  Alter_routine_priv: 'ALTER ROUTINE',
  Create_user_priv: 'CREATE USER',
  Event_priv: 'EVENT',
  Trigger_priv: 'TRIGGER',
  Create_tablespace_priv: 'CREATE TABLESPACE',
  Delete_history_priv: 'DELETE HISTORY',
};
const GRANT_OPTION = 'Grant_priv';

/** Global privileges that reach past any one schema: what makes an account an administrator. */
const ADMINISTRATIVE = new Set([
  'SUPER',
  'CREATE USER',
  'FILE',
  'SHUTDOWN',
  'RELOAD',
  'PROCESS',
  'REPLICATION SLAVE',
]);

/** Privilege words of one `mysql.user` or `mysql.db` row: `ALL PRIVILEGES` when every column is set. */
function privilegesOf(row: Row, columns: readonly string[]): { words: string[]; grantOption: boolean } {
  const held = columns.filter((c) => row[c] === 'Y');
  const words =
    held.length === columns.length && columns.length > 0
      ? ['ALL PRIVILEGES']
      : held.map(
          (c) =>
            USER_PRIVILEGE_COLUMNS[c] ??
            c
              .replace(/_priv$/, '')
              .replaceAll('_', ' ')
              .toUpperCase(),
        );
  return { words, grantOption: row[GRANT_OPTION] === 'Y' };
}

const account = (user: string, host: string) => `'${user}'@'${host}'`;

interface Grantee {
  global: string[];
  grantOption: boolean;
  /** `SELECT, INSERT ON app.*` per schema. */
  schemas: string[];
  /** Roles granted directly: name, and whether WITH ADMIN OPTION. */
  roles: { role: string; admin: boolean }[];
}

/**
 * Accounts (not roles) that hold privilege that matters and that no Stint store marked: global privileges (`SUPER`,
 * `ALL PRIVILEGES`, `CREATE USER` …), `GRANT OPTION`, schema-wide privileges, and roles (directly or through other
 * roles) that the policy grants or that carry privileges of their own, or that it may hand on (ADMIN OPTION). Read
 * from `mysql.user` (its privilege columns only), `mysql.roles_mapping` and `mysql.db`, which the documented admin
 * setup lets `stint_admin` read. An account Stint marked is left out unless someone gave it global privileges,
 * which Stint never does.
 */
export async function listStanding(
  admin: Admin,
  grants: readonly string[],
  signal: AbortSignal,
): Promise<StandingPrincipal[]> {
  const userColumns = Object.keys(USER_PRIVILEGE_COLUMNS);
  const { users, mappings, schemas, marked, me } = await withConnection(admin, signal, async (c) => {
    const [users] = await c.query<Row[]>(
      `SELECT User, Host, is_role, ${[...userColumns, GRANT_OPTION].join(', ')} FROM mysql.user`,
    );
    const [mappings] = await c.query<Row[]>('SELECT Host, User, Role, Admin_option FROM mysql.roles_mapping');
    const [schemas] = await c.query<Row[]>('SELECT * FROM mysql.db');
    const [marked] = await c.query<Row[]>(`SELECT user, host FROM ${MARKS}`);
    const [me] = await c.query<Row[]>('SELECT CURRENT_USER() AS me');
    return { users, mappings, schemas, marked, me: String(me[0]?.me ?? '') };
  });

  const grantees = new Map<string, Grantee>();
  const of = (user: string, host: string): Grantee => {
    const key = account(user, host);
    let g = grantees.get(key);
    if (!g) {
      g = { global: [], grantOption: false, schemas: [], roles: [] };
      grantees.set(key, g);
    }
    return g;
  };
  for (const u of users) {
    // Roles and accounts share the table; a role is keyed with the empty host roles_mapping and mysql.db give it.
    const { words, grantOption } = privilegesOf(u, userColumns);
    const g = of(String(u.User), u.is_role === 'Y' ? '' : String(u.Host));
    g.global = words;
    g.grantOption = grantOption;
  }
  for (const d of schemas) {
    const columns = Object.keys(d).filter((c) => c.endsWith('_priv') && c !== GRANT_OPTION);
    const { words, grantOption } = privilegesOf(d, columns);
    if (words.length === 0 && !grantOption) continue;
    const on = `ON \`${String(d.Db).replaceAll('`', '``')}\`.*`;
    of(String(d.User), String(d.Host)).schemas.push(
      `${words.join(', ') || 'USAGE'} ${on}${grantOption ? ' WITH GRANT OPTION' : ''}`,
    );
  }
  for (const m of mappings) {
    of(String(m.User), String(m.Host)).roles.push({ role: String(m.Role), admin: m.Admin_option === 'Y' });
  }

  const roleMatters = (role: string) => {
    const g = grantees.get(account(role, ''));
    return grants.includes(role) || (g !== undefined && (g.global.length > 0 || g.schemas.length > 0));
  };
  /** Every role an account holds, directly or through other roles, with the first path's ADMIN OPTION. */
  const held = (g: Grantee): Map<string, boolean> => {
    const out = new Map<string, boolean>();
    const queue = [...g.roles];
    while (queue.length > 0) {
      const next = queue.shift() as { role: string; admin: boolean };
      if (out.has(next.role)) continue;
      out.set(next.role, next.admin);
      queue.push(
        ...(grantees.get(account(next.role, ''))?.roles ?? []).map((r) => ({ role: r.role, admin: false })),
      );
    }
    return out;
  };

  const stint = new Set(marked.map((m) => account(String(m.user), String(m.host))));
  const at = me.lastIndexOf('@');
  const self = at < 0 ? '' : account(me.slice(0, at), me.slice(at + 1));
  const out: StandingPrincipal[] = [];
  for (const u of users) {
    if (u.is_role === 'Y') continue;
    const name = account(String(u.User), String(u.Host));
    const g = grantees.get(name) as Grantee;
    if (stint.has(name) && g.global.length === 0 && !g.grantOption) continue;
    const privileges: string[] = [];
    const reasons: string[] = [];
    if (g.global.length > 0) {
      privileges.push(`${g.global.join(', ')} ON *.*`);
      const admin = g.global.includes('ALL PRIVILEGES') || g.global.some((w) => ADMINISTRATIVE.has(w));
      reasons.push(admin ? 'administers the server: global privileges' : 'global privileges on every schema');
    }
    if (g.grantOption) {
      privileges.push('GRANT OPTION');
      reasons.push('can pass its privileges on');
    }
    if (g.schemas.length > 0) {
      privileges.push(...g.schemas);
      reasons.push('schema-wide privileges granted to the account itself');
    }
    for (const [role, adminOption] of held(g)) {
      if (!roleMatters(role) && !adminOption) continue;
      privileges.push(`role ${role}${adminOption ? ' WITH ADMIN OPTION' : ''}`);
      if (grants.includes(role))
        reasons.push(`holds ${role} all the time, which the policy grants just in time`);
      else if (roleMatters(role)) reasons.push(`holds the role ${role}, which carries privileges`);
      if (adminOption) reasons.push(`can grant ${role} to any account`);
    }
    if (privileges.length === 0) continue;
    const reason = [...new Set(reasons)].join('; ');
    out.push({
      principal: name,
      privileges,
      reason: name === self ? `Stint's own admin account on this target: ${reason}` : reason,
      ...(name === self ? { detail: { stintAdmin: true } } : {}),
    });
  }
  return out.sort((a, b) => a.principal.localeCompare(b.principal));
}
