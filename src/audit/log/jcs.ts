import { AuditLogError } from './errors.js';

/**
 * RFC 8785 JSON Canonicalization Scheme. An audit event's leaf is SHA-256 over these exact bytes, so anyone with
 * the event and a JCS implementation recomputes the leaf; any variation in key order, number spelling or
 * escaping would make an honest event look tampered.
 *
 * The data model is I-JSON (RFC 7493): null, booleans, finite IEEE-754 numbers, strings of Unicode scalar
 * values, arrays and plain objects. Anything else throws `JCS_UNSUPPORTED_VALUE` rather than being coerced the
 * way JSON.stringify would (undefined silently dropped, NaN turned into null, Dates through toJSON): an audit
 * record must never lose a field without anyone noticing.
 */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

// In a /u regex a surrogate can only match when it is unpaired: a paired one is read as one code point.
const LONE_SURROGATE = /\p{Surrogate}/u;

function fail(path: string, what: string): never {
  throw new AuditLogError('JCS_UNSUPPORTED_VALUE', `${path}: ${what} is not allowed in canonical JSON`);
}

/**
 * §3.2.2.2: the escapes of ECMAScript's JSON.stringify are exactly JCS's (\b \t \n \f \r, other controls as
 * lowercase \u00xx, '"' and '\\'; everything else literal), once lone surrogates are excluded.
 */
function serializeString(s: string, path: string): string {
  if (LONE_SURROGATE.test(s)) fail(path, 'a string with a lone surrogate');
  return JSON.stringify(s);
}

/**
 * §3.2.2.3: ECMAScript Number.prototype.toString, which is what String(n) does; −0 prints as "0" there too.
 */
function serializeNumber(n: number, path: string): string {
  if (!Number.isFinite(n)) fail(path, String(n));
  return String(n);
}

/** Key order §3.2.3: by UTF-16 code units, which is what JavaScript's < on strings compares. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function serialize(value: unknown, path: string, ancestors: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return serializeString(value, path);
    case 'number':
      return serializeNumber(value, path);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      // undefined, bigint (not a binary64), symbol, function.
      return fail(path, typeof value);
  }
  if (value === null) return 'null';
  if (ancestors.has(value)) fail(path, 'a cycle');
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      const parts: string[] = [];
      for (let i = 0; i < value.length; i++) {
        if (!(i in value)) fail(`${path}[${i}]`, 'a hole in an array');
        parts.push(serialize(value[i], `${path}[${i}]`, ancestors));
      }
      return `[${parts.join(',')}]`;
    }
    if (!isPlainObject(value)) fail(path, `an instance of ${value.constructor?.name ?? 'a class'}`);
    if (Object.getOwnPropertySymbols(value).length > 0) fail(path, 'a symbol-keyed property');
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort(byCodeUnits);
    const parts = keys.map(
      (key) => `${serializeString(key, path)}:${serialize(record[key], `${path}.${key}`, ancestors)}`,
    );
    return `{${parts.join(',')}}`;
  } finally {
    ancestors.delete(value);
  }
}

/** The canonical JSON text of `value` (RFC 8785), or `JCS_UNSUPPORTED_VALUE` naming the offending path. */
export function canonicalize(value: unknown): string {
  return serialize(value, '$', new Set());
}

/**
 * Whether `text` is already canonical: parsing and re-canonicalizing gives it back unchanged. Duplicate keys,
 * whitespace, other number spellings and numbers beyond binary64 all fail this, so a verifier can tell an
 * event that was rewritten into equivalent-but-different JSON.
 */
export function isCanonical(text: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return false;
  }
  try {
    return canonicalize(parsed) === text;
  } catch {
    return false;
  }
}
