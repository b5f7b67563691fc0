import { field, isObject, type Json, optionalString, toBoolean } from './scim-attributes.js';
import { badRequest } from './scim-errors.js';

/**
 * SCIM 2.0 resources (RFC 7643) as Stint keeps them: validating a User or Group, and rendering one as a client
 * sees it. PATCH is scim-patch.ts, filters and paging scim-list.ts. No store, no clock: a rejected input is
 * rejected before anything is written.
 */

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

export interface ScimEmail {
  value: string;
  type?: string;
  primary?: boolean;
}

export interface ScimName {
  formatted?: string;
  givenName?: string;
  familyName?: string;
}

export interface ScimEnterprise {
  employeeNumber?: string;
  department?: string;
  /** The manager's SCIM id (RFC 7643 §4.3), resolved to their userName when mapped to the directory. */
  manager?: { value: string };
}

/** A user as stored: the attributes Stint understands; anything else an IdP sends is ignored. */
export interface ScimUserDoc {
  userName: string;
  externalId?: string;
  displayName?: string;
  name?: ScimName;
  emails: ScimEmail[];
  active: boolean;
  enterprise?: ScimEnterprise;
}

export interface ScimGroupDoc {
  displayName: string;
  externalId?: string;
  /** SCIM ids of member users. */
  members: string[];
}

function checkSchemas(body: Json, core: string, allowed: readonly string[]): string[] {
  const schemas = field(body, 'schemas');
  if (!Array.isArray(schemas) || schemas.some((s) => typeof s !== 'string')) {
    throw badRequest('schemas must be an array of schema URIs', 'invalidSyntax');
  }
  const unknown = schemas.filter((s) => !allowed.includes(s));
  if (unknown.length > 0) throw badRequest(`unknown schema ${unknown.join(', ')}`, 'invalidSyntax');
  if (!schemas.includes(core)) throw badRequest(`schemas must include ${core}`, 'invalidSyntax');
  for (const key of Object.keys(body)) {
    if (key.startsWith('urn:') && !schemas.includes(key)) {
      throw badRequest(`extension ${key} is not declared in schemas`, 'invalidSyntax');
    }
  }
  return schemas;
}

function parseEmails(v: unknown): ScimEmail[] {
  if (!Array.isArray(v) || v.length === 0) {
    throw badRequest('emails is required: at least one email address', 'invalidValue');
  }
  return v.map((e, i) => {
    if (!isObject(e)) throw badRequest(`emails[${i}] must be an object`, 'invalidValue');
    const value = optionalString(e, 'value', `emails[${i}].`);
    if (value === undefined || !/^[^@\s]+@[^@\s]+$/.test(value.trim())) {
      throw badRequest(`emails[${i}].value must be an email address`, 'invalidValue');
    }
    const type = optionalString(e, 'type', `emails[${i}].`);
    const primary = field(e, 'primary');
    return {
      value: value.trim(),
      ...(type === undefined ? {} : { type }),
      ...(primary === undefined || primary === null
        ? {}
        : { primary: toBoolean(primary, `emails[${i}].primary`) }),
    };
  });
}

function parseEnterprise(v: unknown): ScimEnterprise | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw badRequest(`${ENTERPRISE_SCHEMA} must be an object`, 'invalidValue');
  const out: ScimEnterprise = {};
  const employeeNumber = optionalString(v, 'employeeNumber', 'enterprise ');
  const department = optionalString(v, 'department', 'enterprise ');
  if (employeeNumber !== undefined) out.employeeNumber = employeeNumber;
  if (department !== undefined) out.department = department;
  const manager = field(v, 'manager');
  // Some IdPs send the manager as a bare id; an empty value clears it.
  const managerId =
    typeof manager === 'string' ? manager : isObject(manager) ? field(manager, 'value') : manager;
  if (managerId !== undefined && managerId !== null && managerId !== '') {
    if (typeof managerId !== 'string') throw badRequest('manager.value must be a string', 'invalidValue');
    out.manager = { value: managerId };
  }
  return out;
}

/** Validates a User for POST and PUT (and the result of a PATCH). `id` and `meta` are read-only: ignored. */
export function parseUser(body: unknown): ScimUserDoc {
  if (!isObject(body)) throw badRequest('the body must be a JSON object', 'invalidSyntax');
  const schemas = checkSchemas(body, USER_SCHEMA, [USER_SCHEMA, ENTERPRISE_SCHEMA]);
  const userName = optionalString(body, 'userName', '');
  if (userName === undefined || userName.trim() === '') {
    throw badRequest('userName is required', 'invalidValue');
  }
  const emails = parseEmails(field(body, 'emails'));
  const nameValue = field(body, 'name');
  let name: ScimName | undefined;
  if (nameValue !== undefined && nameValue !== null) {
    if (!isObject(nameValue)) throw badRequest('name must be an object', 'invalidValue');
    name = {};
    for (const part of ['formatted', 'givenName', 'familyName'] as const) {
      const s = optionalString(nameValue, part, 'name.');
      if (s !== undefined) name[part] = s;
    }
  }
  const active = field(body, 'active');
  const externalId = optionalString(body, 'externalId', '');
  const displayName = optionalString(body, 'displayName', '');
  const enterprise = schemas.includes(ENTERPRISE_SCHEMA)
    ? parseEnterprise(body[ENTERPRISE_SCHEMA])
    : undefined;
  return {
    userName: userName.trim(),
    emails,
    active: active === undefined || active === null ? true : toBoolean(active, 'active'),
    ...(externalId === undefined ? {} : { externalId }),
    ...(displayName === undefined ? {} : { displayName }),
    ...(name === undefined ? {} : { name }),
    ...(enterprise === undefined ? {} : { enterprise }),
  };
}

export function parseGroup(body: unknown): ScimGroupDoc {
  if (!isObject(body)) throw badRequest('the body must be a JSON object', 'invalidSyntax');
  checkSchemas(body, GROUP_SCHEMA, [GROUP_SCHEMA]);
  const displayName = optionalString(body, 'displayName', '');
  if (displayName === undefined || displayName.trim() === '') {
    throw badRequest('displayName is required', 'invalidValue');
  }
  const membersValue = field(body, 'members') ?? [];
  if (!Array.isArray(membersValue)) throw badRequest('members must be an array', 'invalidValue');
  const members = membersValue.map((m, i) => {
    const value = isObject(m) ? field(m, 'value') : undefined;
    if (typeof value !== 'string' || value === '') {
      throw badRequest(`members[${i}].value must be a user id`, 'invalidValue');
    }
    return value;
  });
  const externalId = optionalString(body, 'externalId', '');
  return {
    displayName: displayName.trim(),
    members: [...new Set(members)],
    ...(externalId === undefined ? {} : { externalId }),
  };
}

/** The primary email, else the first (RFC 7643 §2.4: at most one is primary). */
export function primaryEmail(doc: Pick<ScimUserDoc, 'emails'>): string {
  const email = doc.emails.find((e) => e.primary === true) ?? doc.emails[0];
  if (email === undefined) throw new Error('a stored SCIM user has no email');
  return email.value;
}

export interface ScimMeta {
  resourceType: 'User' | 'Group';
  created: Date;
  lastModified: Date;
  version: number;
  location: string;
}

function meta(m: ScimMeta): Json {
  return {
    resourceType: m.resourceType,
    created: m.created.toISOString(),
    lastModified: m.lastModified.toISOString(),
    location: m.location,
    version: `W/"${m.version}"`,
  };
}

/** The User resource as a SCIM client sees it. `groups` is read-only: membership is managed on Groups. */
export function userResource(
  id: string,
  doc: ScimUserDoc,
  groups: readonly { id: string; displayName: string }[],
  m?: ScimMeta,
): Json {
  return {
    schemas: doc.enterprise ? [USER_SCHEMA, ENTERPRISE_SCHEMA] : [USER_SCHEMA],
    id,
    ...(doc.externalId === undefined ? {} : { externalId: doc.externalId }),
    userName: doc.userName,
    ...(doc.displayName === undefined ? {} : { displayName: doc.displayName }),
    ...(doc.name === undefined ? {} : { name: doc.name }),
    emails: doc.emails,
    active: doc.active,
    groups: groups.map((g) => ({ value: g.id, display: g.displayName, $ref: `../Groups/${g.id}` })),
    ...(doc.enterprise === undefined ? {} : { [ENTERPRISE_SCHEMA]: doc.enterprise }),
    ...(m ? { meta: meta(m) } : {}),
  };
}

export function groupResource(
  id: string,
  doc: ScimGroupDoc,
  members: readonly { id: string; userName: string }[],
  m?: ScimMeta,
): Json {
  return {
    schemas: [GROUP_SCHEMA],
    id,
    displayName: doc.displayName,
    ...(doc.externalId === undefined ? {} : { externalId: doc.externalId }),
    members: members.map((u) => ({ value: u.id, display: u.userName, $ref: `../Users/${u.id}` })),
    ...(m ? { meta: meta(m) } : {}),
  };
}
