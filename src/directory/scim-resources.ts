import { badRequest } from './scim-errors.js';

/**
 * SCIM 2.0 resources (RFC 7643) as Stint keeps them, and the pure parts of the protocol (RFC 7644): input
 * validation, PATCH, filters. No store, no clock: a rejected input is rejected before anything is written.
 */

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

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

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Attribute names are case-insensitive (RFC 7643 §2.1): find `name` in `obj` however it is spelt. */
function field(obj: Json, name: string): unknown {
  const key = Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : obj[key];
}

function optionalString(obj: Json, name: string, where: string): string | undefined {
  const v = field(obj, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badRequest(`${where}${name} must be a string`, 'invalidValue');
  return v;
}

/** Entra ID sends booleans as "True"/"False" strings in PATCH. */
function toBoolean(v: unknown, name: string): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  throw badRequest(`${name} must be a boolean`, 'invalidValue');
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

// ---------------------------------------------------------------------------------------------- PATCH

export interface PatchOperation {
  op: 'add' | 'replace' | 'remove';
  path: string | undefined;
  value: unknown;
}

export function parsePatch(body: unknown): PatchOperation[] {
  if (!isObject(body)) throw badRequest('the body must be a JSON object', 'invalidSyntax');
  const schemas = field(body, 'schemas');
  if (!Array.isArray(schemas) || schemas.length !== 1 || schemas[0] !== PATCH_SCHEMA) {
    throw badRequest(`a PATCH body must have schemas [${PATCH_SCHEMA}]`, 'invalidSyntax');
  }
  const ops = field(body, 'Operations');
  if (!Array.isArray(ops) || ops.length === 0) {
    throw badRequest('Operations must be a non-empty array', 'invalidSyntax');
  }
  return ops.map((o, i) => {
    if (!isObject(o)) throw badRequest(`Operations[${i}] must be an object`, 'invalidSyntax');
    const op = field(o, 'op');
    const name = typeof op === 'string' ? op.toLowerCase() : '';
    if (name !== 'add' && name !== 'replace' && name !== 'remove') {
      throw badRequest(`Operations[${i}].op must be add, replace or remove`, 'invalidSyntax');
    }
    const path = field(o, 'path');
    if (path !== undefined && (typeof path !== 'string' || path.trim() === '')) {
      throw badRequest(`Operations[${i}].path must be a non-empty string`, 'invalidPath');
    }
    const value = field(o, 'value');
    if (name === 'remove' && path === undefined) {
      throw badRequest(`Operations[${i}]: remove needs a path`, 'noTarget');
    }
    if (name !== 'remove' && value === undefined) {
      throw badRequest(`Operations[${i}]: ${name} needs a value`, 'invalidValue');
    }
    return { op: name, path: typeof path === 'string' ? path.trim() : undefined, value };
  });
}

interface ParsedPath {
  extension: string | undefined;
  attr: string;
  filter: { attr: string; value: string } | undefined;
  sub: string | undefined;
}

const PATH =
  /^([A-Za-z][\w$-]*)(?:\[\s*([A-Za-z][\w$-]*)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*\])?(?:\.([A-Za-z][\w$-]*))?$/i;

function parsePath(path: string, extensions: readonly string[]): ParsedPath {
  let rest = path;
  let extension: string | undefined;
  for (const ext of extensions) {
    if (path.toLowerCase().startsWith(`${ext.toLowerCase()}:`)) {
      extension = ext;
      rest = path.slice(ext.length + 1);
    }
  }
  const m = PATH.exec(rest);
  if (m === null) throw badRequest(`unsupported or malformed path ${path}`, 'invalidPath');
  const [, attr = '', fattr, fvalue, sub] = m;
  return {
    extension,
    attr,
    filter: fattr === undefined ? undefined : { attr: fattr, value: (fvalue ?? '').replace(/\\(.)/g, '$1') },
    sub,
  };
}

function keyOf(obj: Json, name: string): string {
  return Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name;
}

function applyOne(target: Json, op: PatchOperation, extensions: readonly string[]): void {
  if (op.path === undefined) {
    if (!isObject(op.value))
      throw badRequest(`${op.op} without a path needs an object value`, 'invalidValue');
    for (const [k, v] of Object.entries(op.value)) {
      const ext = extensions.find((e) => e.toLowerCase() === k.toLowerCase());
      if (ext !== undefined && isObject(v)) {
        // An extension object merges into the stored extension rather than replacing it.
        for (const [ek, ev] of Object.entries(v))
          applyOne(target, { op: op.op, path: `${ext}:${ek}`, value: ev }, extensions);
      } else {
        applyOne(target, { op: op.op, path: k, value: v }, extensions);
      }
    }
    return;
  }
  const p = parsePath(op.path, extensions);
  let container = target;
  if (p.extension !== undefined) {
    const k = keyOf(target, p.extension);
    const existing = target[k];
    if (!isObject(existing)) {
      if (op.op === 'remove') return;
      target[k] = {};
      const schemas = target.schemas;
      if (Array.isArray(schemas) && !schemas.includes(p.extension)) schemas.push(p.extension);
    }
    container = target[k] as Json;
  }
  const attr = keyOf(container, p.attr);
  const current = container[attr];

  if (p.filter !== undefined) {
    const list = current === undefined ? [] : current;
    if (!Array.isArray(list)) throw badRequest(`${p.attr} is not multi-valued`, 'invalidPath');
    const { attr: fattr, value: fvalue } = p.filter;
    const matches = (item: unknown) =>
      isObject(item) && String(field(item, fattr) ?? '').toLowerCase() === fvalue.toLowerCase();
    if (op.op === 'remove') {
      container[attr] =
        p.sub === undefined
          ? list.filter((item) => !matches(item))
          : list.map((item) => {
              if (!matches(item)) return item;
              const copy = { ...(item as Json) };
              delete copy[keyOf(copy, p.sub as string)];
              return copy;
            });
      return;
    }
    const hit = list.some(matches);
    if (!hit) {
      if (p.sub === undefined) throw badRequest(`no ${p.attr} matches ${op.path}`, 'noTarget');
      container[attr] = [...list, { [fattr]: fvalue, [p.sub]: op.value }];
      return;
    }
    container[attr] = list.map((item) => {
      if (!matches(item)) return item;
      if (p.sub === undefined) return isObject(op.value) ? { ...(item as Json), ...op.value } : op.value;
      return { ...(item as Json), [keyOf(item as Json, p.sub)]: op.value };
    });
    return;
  }

  if (p.sub !== undefined) {
    if (current !== undefined && !isObject(current))
      throw badRequest(`${p.attr} is not complex`, 'invalidPath');
    if (op.op === 'remove') {
      if (isObject(current)) delete current[keyOf(current, p.sub)];
      return;
    }
    const obj = isObject(current) ? current : {};
    obj[keyOf(obj, p.sub)] = op.value;
    container[attr] = obj;
    return;
  }

  switch (op.op) {
    case 'remove':
      if (Array.isArray(current) && Array.isArray(op.value)) {
        // Entra ID removes group members as { path: "members", value: [{ value: id }] }.
        const drop = new Set(op.value.map((v) => (isObject(v) ? String(field(v, 'value')) : String(v))));
        container[attr] = current.filter(
          (item) => !(isObject(item) && drop.has(String(field(item, 'value')))),
        );
      } else {
        delete container[attr];
      }
      return;
    case 'add':
      if (Array.isArray(current)) {
        container[attr] = [...current, ...(Array.isArray(op.value) ? op.value : [op.value])];
        return;
      }
      container[attr] = op.value;
      return;
    case 'replace':
      container[attr] = op.value;
      return;
  }
}

/**
 * Applies PATCH operations to a copy of a resource's JSON (RFC 7644 §3.5.2). The caller re-validates the result
 * with parseUser/parseGroup, so a PATCH can never store what a PUT would have refused.
 */
export function applyPatch(
  resource: Json,
  ops: readonly PatchOperation[],
  extensions: readonly string[],
): Json {
  const copy = structuredClone(resource);
  for (const op of ops) applyOne(copy, op, extensions);
  return copy;
}

// ---------------------------------------------------------------------------------------------- filters

export interface ScimFilter {
  attr: string;
  value: string;
}

/**
 * The filters IdPs send when they reconcile: `attr eq "value"` (RFC 7644 §3.4.2.2). Other operators and
 * compound filters are refused with invalidFilter rather than being answered wrongly.
 */
export function parseFilter(filter: string, attributes: readonly string[]): ScimFilter {
  const m = /^\s*([A-Za-z][\w.:$-]*)\s+([A-Za-z]{2})\s+"((?:[^"\\]|\\.)*)"\s*$/.exec(filter);
  if (m === null) throw badRequest(`unsupported or malformed filter: ${filter}`, 'invalidFilter');
  const [, attr = '', op = '', value = ''] = m;
  if (op.toLowerCase() !== 'eq')
    throw badRequest(`only the eq operator is supported, not ${op}`, 'invalidFilter');
  const known = attributes.find((a) => a.toLowerCase() === attr.toLowerCase());
  if (known === undefined) {
    throw badRequest(
      `filtering on ${attr} is not supported (supported: ${attributes.join(', ')})`,
      'invalidFilter',
    );
  }
  return { attr: known, value: value.replace(/\\(.)/g, '$1') };
}

/** startIndex is 1-based; a count of 0 asks for the total only (RFC 7644 §3.4.2.4). */
export function parsePage(query: { startIndex?: unknown; count?: unknown }, max: number) {
  const int = (v: unknown, name: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (typeof v !== 'string' || v.trim() === '' || !Number.isInteger(n)) {
      throw badRequest(`${name} must be an integer`, 'invalidValue');
    }
    return n;
  };
  const startIndex = Math.max(1, int(query.startIndex, 'startIndex') ?? 1);
  const count = Math.min(max, Math.max(0, int(query.count, 'count') ?? max));
  return { startIndex, count };
}

export function listResponse(all: readonly Json[], page: { startIndex: number; count: number }): Json {
  const items = all.slice(page.startIndex - 1, page.startIndex - 1 + page.count);
  return {
    schemas: [LIST_SCHEMA],
    totalResults: all.length,
    startIndex: page.startIndex,
    itemsPerPage: items.length,
    Resources: items,
  };
}
