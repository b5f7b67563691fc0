import type { StandingPrincipal } from '../provider.js';
import { type Admin, query } from './connect.js';
import { COMMENT_PREFIX, PRINCIPAL_PREFIX } from './principal-name.js';

/** Role attributes worth a line of their own, as CREATE ROLE spells them. */
const ATTRIBUTES = [
  ['rolsuper', 'SUPERUSER', 'superuser: no permission check applies'],
  ['rolcreaterole', 'CREATEROLE', 'can create, alter and grant roles'],
  ['rolcreatedb', 'CREATEDB', 'can create databases'],
  ['rolreplication', 'REPLICATION', 'can stream the whole cluster’s data as a replica'],
  ['rolbypassrls', 'BYPASSRLS', 'ignores row-level security'],
] as const;

type Attribute = (typeof ATTRIBUTES)[number][0];

interface Row extends Record<Attribute, boolean> {
  rolname: string;
  admin: boolean;
  valid_until: string | null;
  /** `name`, `name (SUPERUSER)` …: the roles it can use or SET ROLE to that matter. */
  via: {
    role: string;
    admin_option: boolean;
    /** Its privileges can be used or SET ROLE to; false for a 16+ grant with ADMIN only. */
    usable: boolean;
    predefined: boolean;
    granted: boolean;
    attrs: string[];
  }[];
  databases: string[];
  relations: string;
  schemas: string[];
  table_grants: { privilege: string; relations: string }[];
}

/**
 * Memberships that give something: on 16+ a grant can carry neither INHERIT nor SET (`stint_admin`'s own ADMIN-only
 * grants on the team roles), which is the right to hand the role out, not to use it; on 15 every membership allows
 * SET ROLE. Both versions' `pg_auth_members` are readable by every role.
 */
const usable = (serverVersion: number) =>
  serverVersion >= 160000 ? '(m.inherit_option OR m.set_option)' : 'true';

/**
 * Login roles (other than Stint's) that hold privilege that matters, read from the catalogs every role can read:
 * attributes, memberships (direct or through other roles) in predefined `pg_*` roles, in the roles the policy
 * grants or in roles with attributes, ADMIN OPTION on a role, databases owned, and in the admin URL's database the
 * schemas and relations owned and direct write grants on relations. Roles Stint made (named `stint_…` with its
 * comment) are left out unless someone gave them an attribute Stint never does.
 */
export async function listStanding(
  admin: Admin,
  grants: readonly string[],
  signal: AbortSignal,
): Promise<StandingPrincipal[]> {
  const { rows: version } = await query<{ v: string }>(
    admin,
    signal,
    "SELECT current_setting('server_version_num') AS v",
  );
  const edge = usable(Number(version[0]?.v ?? 0));
  const { rows } = await query<Row>(
    admin,
    signal,
    `WITH RECURSIVE reach(member, roleid, admin_option, usable) AS (
       SELECT m.member, m.roleid, m.admin_option, ${edge} FROM pg_auth_members m WHERE ${edge} OR m.admin_option
       UNION
       SELECT r.member, m.roleid, false, true FROM reach r JOIN pg_auth_members m ON m.member = r.roleid
        WHERE r.usable AND ${edge}
     ),
     writes AS (
       SELECT a.grantee, a.privilege_type, c.oid
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
          AND a.grantee <> c.relowner AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
     )
     SELECT r.rolname, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
            r.rolname = current_user AS admin,
            CASE WHEN r.rolvaliduntil IS NULL THEN NULL ELSE r.rolvaliduntil::text END AS valid_until,
            coalesce((SELECT json_agg(v ORDER BY v.role) FROM (
                        SELECT g.rolname AS role, bool_or(x.admin_option) AS admin_option,
                               bool_or(x.usable) AS usable, starts_with(g.rolname, 'pg_') AS predefined,
                               g.rolname = ANY($1::text[]) AS granted,
                               array_remove(ARRAY[
                                 CASE WHEN g.rolsuper THEN 'SUPERUSER' END,
                                 CASE WHEN g.rolcreaterole THEN 'CREATEROLE' END,
                                 CASE WHEN g.rolcreatedb THEN 'CREATEDB' END,
                                 CASE WHEN g.rolreplication THEN 'REPLICATION' END,
                                 CASE WHEN g.rolbypassrls THEN 'BYPASSRLS' END], NULL) AS attrs
                          FROM reach x JOIN pg_roles g ON g.oid = x.roleid
                         WHERE x.member = r.oid
                         GROUP BY g.oid, g.rolname, g.rolsuper, g.rolcreaterole, g.rolcreatedb, g.rolreplication,
                                  g.rolbypassrls) v), '[]') AS via,
            ARRAY(SELECT d.datname::text FROM pg_database d
                   WHERE d.datdba = r.oid AND NOT d.datistemplate ORDER BY 1) AS databases,
            (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
                AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND n.nspname NOT LIKE 'pg\\_toast%') AS relations,
            ARRAY(SELECT n.nspname::text FROM pg_namespace n
                   WHERE n.nspowner = r.oid AND n.nspname NOT LIKE 'pg\\_%'
                     AND n.nspname <> 'information_schema' ORDER BY 1) AS schemas,
            coalesce((SELECT json_agg(json_build_object('privilege', w.privilege_type, 'relations', w.n)
                                      ORDER BY w.privilege_type)
                        FROM (SELECT privilege_type, count(DISTINCT oid) AS n FROM writes
                               WHERE grantee = r.oid GROUP BY privilege_type) w), '[]') AS table_grants
       FROM pg_roles r
      WHERE r.rolcanlogin
        AND NOT (starts_with(r.rolname, $2)
                 AND starts_with(coalesce(shobj_description(r.oid, 'pg_authid'), ''), $3)
                 AND NOT (r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls))
      ORDER BY r.rolname`,
    [grants, PRINCIPAL_PREFIX, COMMENT_PREFIX],
  );
  const { rows: db } = await query<{ db: string }>(admin, signal, 'SELECT current_database() AS db');
  const database = db[0]?.db ?? '';
  return rows.flatMap((r) => {
    const entry = describe(r, database);
    return entry ? [entry] : [];
  });
}

function describe(r: Row, database: string): StandingPrincipal | null {
  const privileges: string[] = [];
  const reasons: string[] = [];
  for (const [column, word, why] of ATTRIBUTES) {
    if (r[column]) {
      privileges.push(word);
      reasons.push(why);
    }
  }
  for (const v of r.via) {
    const attrs = v.attrs.length > 0 ? ` (${v.attrs.join(', ')})` : '';
    if (!v.usable) {
      privileges.push(`ADMIN OPTION on ${v.role}${attrs}`);
      reasons.push(`can grant ${v.role} to any role`);
      continue;
    }
    if (!(v.predefined || v.granted || v.attrs.length > 0 || v.admin_option)) continue;
    privileges.push(`member of ${v.role}${attrs}${v.admin_option ? ' WITH ADMIN OPTION' : ''}`);
    if (v.granted) reasons.push(`holds ${v.role} all the time, which the policy grants just in time`);
    else if (v.predefined) reasons.push(`member of the predefined role ${v.role}`);
    else if (v.attrs.length > 0) reasons.push(`can SET ROLE to ${v.role}, which has ${v.attrs.join(', ')}`);
    else reasons.push(`can grant ${v.role} to any role`);
  }
  if (r.databases.length > 0) {
    privileges.push(...r.databases.map((d) => `owner of database ${d}`));
    reasons.push('owns databases');
  }
  if (r.schemas.length > 0) {
    privileges.push(...r.schemas.map((s) => `owner of schema ${s} in ${database}`));
    reasons.push('owns schemas');
  }
  const relations = Number(r.relations);
  if (relations > 0) {
    privileges.push(`owner of ${relations} relation${relations === 1 ? '' : 's'} in ${database}`);
    reasons.push('owns tables: every right on them, always');
  }
  for (const g of r.table_grants) {
    const n = Number(g.relations);
    privileges.push(`${g.privilege} on ${n} relation${n === 1 ? '' : 's'} in ${database}`);
  }
  if (r.table_grants.length > 0) reasons.push('writes tables through grants made to it directly');
  if (privileges.length === 0) return null;
  const reason = [...new Set(reasons)].join('; ');
  const detail = {
    ...(r.valid_until !== null ? { validUntil: r.valid_until } : {}),
    ...(r.admin ? { stintAdmin: true } : {}),
  };
  return {
    principal: r.rolname,
    privileges,
    reason: r.admin ? `Stint's own admin role on this target: ${reason}` : reason,
    ...(Object.keys(detail).length > 0 ? { detail } : {}),
  };
}
