import { field, isObject, type Json, keyOf } from './scim-attributes.js';
import { badRequest } from './scim-errors.js';

/**
 * SCIM PATCH (RFC 7644 §3.5.2): parsing a PatchOp body and applying its operations to a resource's JSON,
 * including the path forms IdPs send (`attr`, `attr.sub`, `attr[sub eq "v"]`, extension-prefixed paths).
 */

export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

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
