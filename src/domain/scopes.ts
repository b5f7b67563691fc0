/**
 * What a scoped API token may do. The list is closed: a token names scopes from here or is refused at creation,
 * and every route names the one scope it needs (or none, when no scoped token may ever call it) in
 * route-access.ts. There is no `scim` scope: SCIM provisioning authenticates with STINT_SCIM_TOKEN only.
 */
export const SCOPES = [
  'requests:read',
  'requests:write',
  'approvals:write',
  'credentials:read',
  'audit:read',
  'metrics:read',
] as const;

export type Scope = (typeof SCOPES)[number];

export const isScope = (s: string): s is Scope => (SCOPES as readonly string[]).includes(s);

/** Scoped tokens are for automation: they must expire, and within this long. */
export const MAX_SCOPED_TOKEN_DAYS = 90;
