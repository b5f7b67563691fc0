import { type Admin, query } from './connect.js';
import { COMMENT_PREFIX, type ParsedComment, PRINCIPAL_PREFIX, parseComment } from './principal-name.js';

/** A role as the catalog has it: whether it exists, and the comment that says whether Stint made it. */
export interface RoleTag {
  exists: boolean;
  comment: string | null;
}

export async function readRoleTag(admin: Admin, principal: string, signal: AbortSignal): Promise<RoleTag> {
  const { rows } = await query<{ comment: string | null }>(
    admin,
    signal,
    "SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1",
    [principal],
  );
  const row = rows[0];
  return row ? { exists: true, comment: row.comment } : { exists: false, comment: null };
}

/** Every role carrying a Stint tag, with the tag read. */
export async function taggedRoles(
  admin: Admin,
  signal: AbortSignal,
): Promise<{ principal: string; tag: ParsedComment }[]> {
  const { rows } = await query<{ rolname: string; comment: string }>(
    admin,
    signal,
    `SELECT rolname, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles
      WHERE starts_with(rolname, $1) AND starts_with(shobj_description(oid, 'pg_authid'), $2)
      ORDER BY rolname`,
    [PRINCIPAL_PREFIX, COMMENT_PREFIX],
  );
  return rows.flatMap((r) => {
    const tag = parseComment(r.comment);
    return tag ? [{ principal: r.rolname, tag }] : [];
  });
}

/**
 * Granted roles a member could SET ROLE to and then make roles of their own (or become Stint): Stint's admin
 * role, anything with CREATEROLE or SUPERUSER, another issued credential. Unknown names are left to GRANT.
 */
export async function unsafeGrants(admin: Admin, grants: string[], signal: AbortSignal): Promise<string[]> {
  if (grants.length === 0) return [];
  const { rows } = await query<{ rolname: string }>(
    admin,
    signal,
    `SELECT rolname FROM pg_roles
      WHERE rolname = ANY($1::text[])
        AND (rolname = current_user OR rolsuper OR rolcreaterole
             OR starts_with(coalesce(shobj_description(oid, 'pg_authid'), ''), $2))
      ORDER BY rolname`,
    [grants, COMMENT_PREFIX],
  );
  return rows.map((r) => r.rolname);
}
