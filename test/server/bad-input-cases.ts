import fc from 'fast-check';
import type { RouteEntry } from '../../src/server/route-table.js';

/** One malformed request: everything but the credential, which the test adds for the route. */
export interface BadCase {
  label: string;
  url: string;
  headers?: Record<string, string>;
  payload?: string | Buffer;
}

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  enum?: readonly unknown[];
  const?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  items?: Schema;
};

const JSON_TYPE = { 'content-type': 'application/json' };
const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
const deepObject = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;

/** Values of the right type where the schema can tell, so one mutated field is the only fault. */
const PATTERN_SAMPLES: Record<string, string> = {
  '^req_[0-9a-f]{16}$': 'req_0123456789abcdef',
  '^[0-9]{6}$': '123456',
  '^[A-Za-z0-9_-]{16}$': 'abcdefghijklmnop',
};

export function sample(s: Schema): unknown {
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0];
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'string':
      return (s.pattern && PATTERN_SAMPLES[s.pattern]) ?? 'x'.repeat(Math.max(1, s.minLength ?? 1));
    case 'integer':
    case 'number':
      return s.minimum ?? 1;
    case 'boolean':
      return true;
    case 'array':
      return s.items ? [sample(s.items)] : [];
    case 'null':
      return null;
    default: {
      const out: Record<string, unknown> = {};
      for (const key of s.required ?? []) out[key] = sample(s.properties?.[key] ?? {});
      return out;
    }
  }
}

/** Values that break `s` whatever else the body holds: the wrong JSON type, out of range, too long, wrong enum. */
function wrongValues(s: Schema): unknown[] {
  const types = new Set(Array.isArray(s.type) ? s.type : s.type ? [s.type] : []);
  const out: unknown[] = [];
  if (types.size === 0) return out;
  if (!types.has('null')) out.push(null);
  if (!types.has('string')) out.push('5', '', 'true');
  if (!types.has('integer') && !types.has('number')) out.push(5, -1.5);
  if (!types.has('boolean')) out.push(false);
  if (!types.has('array')) out.push([], ['x']);
  if (!types.has('object')) out.push({}, { a: 1 });
  if (types.has('integer')) out.push(1.5, 1e308);
  if ((types.has('integer') || types.has('number')) && s.minimum !== undefined) out.push(s.minimum - 1);
  if ((types.has('integer') || types.has('number')) && s.maximum !== undefined) out.push(s.maximum + 1);
  if (types.has('string') && s.maxLength !== undefined) out.push('x'.repeat(s.maxLength + 1));
  if (types.has('string') && (s.enum || s.pattern || s.const !== undefined)) out.push('not-allowed ✗');
  if (types.has('string') && s.minLength) out.push('');
  if (types.has('array') && s.items) out.push([{ nested: [] }], [null]);
  return out;
}

/** Bodies as text: what a JS value cannot express (duplicate keys, lone surrogates, bad UTF-8, depth). */
function rawBodies(base: Record<string, unknown>, firstKey: string | undefined): BadCase[] {
  const text = JSON.stringify(base);
  const key = firstKey ?? 'comment';
  const dup = `{${JSON.stringify(key)}:"a",${text.slice(1, -1)}${text === '{}' ? '' : ','}${JSON.stringify(key)}:"b"}`;
  return [
    { label: 'duplicate key', url: '', headers: JSON_TYPE, payload: dup },
    {
      label: 'lone high surrogate',
      url: '',
      headers: JSON_TYPE,
      payload: `{${JSON.stringify(key)}:"x\\ud800y"}`,
    },
    { label: 'lone low surrogate in a key', url: '', headers: JSON_TYPE, payload: '{"\\udc00":1}' },
    {
      label: 'NUL in a string',
      url: '',
      headers: JSON_TYPE,
      payload: `{${JSON.stringify(key)}:"a\\u0000b"}`,
    },
    {
      label: 'invalid UTF-8',
      url: '',
      headers: JSON_TYPE,
      payload: Buffer.concat([
        Buffer.from(`{${JSON.stringify(key)}:"`),
        Buffer.from([0xc3, 0x28, 0xff]),
        Buffer.from('"}'),
      ]),
    },
    {
      label: 'overlong UTF-8',
      url: '',
      headers: JSON_TYPE,
      payload: Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d]),
    },
    { label: '5,000-deep array', url: '', headers: JSON_TYPE, payload: deep(5000) },
    { label: '200-deep object', url: '', headers: JSON_TYPE, payload: deepObject(200) },
    { label: 'truncated JSON', url: '', headers: JSON_TYPE, payload: text.slice(0, -1) },
    { label: '__proto__ key', url: '', headers: JSON_TYPE, payload: '{"__proto__":{"admin":true}}' },
    {
      label: 'constructor.prototype',
      url: '',
      headers: JSON_TYPE,
      payload: '{"constructor":{"prototype":{"a":1}}}',
    },
    {
      label: 'body over the size limit',
      url: '',
      headers: JSON_TYPE,
      payload: `{"a":"${'x'.repeat(2 * 1024 * 1024)}"}`,
    },
    {
      label: 'form-encoded',
      url: '',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'a=1',
    },
    { label: 'no content type', url: '', headers: {}, payload: text },
    { label: 'XML', url: '', headers: { 'content-type': 'application/xml' }, payload: '<a/>' },
    { label: 'JSON as text/plain', url: '', headers: { 'content-type': 'text/plain' }, payload: text },
    {
      label: 'UTF-16 charset',
      url: '',
      headers: { 'content-type': 'application/json; charset=utf-16' },
      payload: Buffer.from(text, 'utf16le'),
    },
  ];
}

/** Malformed bodies for a route that declares one, generated from its schema and mutated one fault at a time. */
function bodyCases(schema: Schema): BadCase[] {
  const base = sample(schema);
  const cases: BadCase[] = [];
  const json = (label: string, value: unknown): BadCase => ({
    label,
    url: '',
    headers: JSON_TYPE,
    payload: JSON.stringify(value),
  });
  const types = new Set(Array.isArray(schema.type) ? schema.type : [schema.type]);
  for (const root of [null, [], 'str', 5, true, [base]]) {
    if (root === null && types.has('null')) continue;
    cases.push(json(`root ${JSON.stringify(root)}`, root));
  }
  if (types.has('object')) {
    // An empty body is no body: refused only where one is required.
    if (!types.has('null'))
      cases.push({ label: 'empty body, JSON type', url: '', headers: JSON_TYPE, payload: '' });
    const obj = (base ?? {}) as Record<string, unknown>;
    if (schema.additionalProperties === false) cases.push(json('unknown field', { ...obj, sudo: true }));
    for (const key of schema.required ?? []) {
      const { [key]: _, ...rest } = obj;
      cases.push(json(`missing ${key}`, rest));
    }
    for (const [key, prop] of Object.entries(schema.properties ?? {})) {
      for (const v of wrongValues(prop))
        cases.push(json(`${key} = ${JSON.stringify(v).slice(0, 40)}`, { ...obj, [key]: v }));
    }
    cases.push(...rawBodies(obj, Object.keys(schema.properties ?? {})[0]));
  }
  return cases;
}

/** Any body at all, on a route that takes none. */
function noBodyCases(): BadCase[] {
  return [
    ...[[], null, 'str', 0, false, {}, { unknown: 1 }].map((v) => ({
      label: `body ${JSON.stringify(v)}`,
      url: '',
      headers: JSON_TYPE,
      payload: JSON.stringify(v),
    })),
    { label: '5,000-deep array', url: '', headers: JSON_TYPE, payload: deep(5000) },
    { label: 'text body', url: '', headers: { 'content-type': 'text/plain' }, payload: 'hello' },
    { label: 'body without a type', url: '', headers: {}, payload: 'hello' },
  ];
}

/** Query strings that break the declared querystring schema: one parameter at a time, plus unknown ones. */
function queryCases(
  schema: Schema | undefined,
  valid: Record<string, string>,
): { label: string; query: string }[] {
  if (!schema?.properties) return [];
  const enc = (q: Record<string, string | string[]>) =>
    Object.entries(q)
      .flatMap(([k, v]) =>
        (Array.isArray(v) ? v : [v]).map((x) => `${encodeURIComponent(k)}=${encodeURIComponent(x)}`),
      )
      .join('&');
  const out: { label: string; query: string }[] = [];
  if (schema.additionalProperties === false)
    out.push({ label: 'unknown parameter', query: enc({ ...valid, sudo: '1' }) });
  for (const key of schema.required ?? []) {
    const { [key]: _, ...rest } = valid;
    out.push({ label: `missing ${key}`, query: enc(rest) });
  }
  for (const [key, prop] of Object.entries(schema.properties)) {
    const type = Array.isArray(prop.type) ? prop.type[0] : prop.type;
    const bad: string[] = [];
    if (type === 'integer' || type === 'number') bad.push('abc', '1.5', '1e400', '0x10', '', 'Infinity');
    if (type === 'integer' && prop.minimum !== undefined) bad.push(String(prop.minimum - 1));
    if (type === 'integer' && prop.maximum !== undefined)
      bad.push(String(prop.maximum + 1), '99999999999999999999');
    if (type === 'boolean') bad.push('maybe', '2', '');
    if (prop.enum || prop.pattern) bad.push('not-allowed', '');
    if (prop.maxLength !== undefined) bad.push('x'.repeat(prop.maxLength + 1));
    bad.push('\u0000', 'x\u0000');
    for (const v of bad) out.push({ label: `${key}=${v.slice(0, 30)}`, query: enc({ ...valid, [key]: v }) });
    // The same parameter twice: a scalar cannot be a list.
    out.push({
      label: `${key} twice`,
      query: enc({ ...valid, [key]: [valid[key] ?? '1', valid[key] ?? '2'] }),
    });
  }
  return out;
}

/** Path parameters no route accepts: too long, not UTF-8, traversal, control characters. */
const BAD_PARAMS = [
  'x'.repeat(150),
  '%E0%A4%A',
  '%ED%A0%80',
  '%C0%AF',
  '..',
  '%2e%2e%2f',
  '%00',
  'req_zz',
  '%F0%9F%98%80',
];

/** Every malformed request for one route, with `fill` putting valid values into its path and query. */
export function casesFor(
  route: RouteEntry,
  fill: { path: (url: string) => string; query: Record<string, string> },
): BadCase[] {
  const path = fill.path(route.url);
  const validQuery = new URLSearchParams(fill.query).toString();
  const at = (c: BadCase): BadCase => ({ ...c, url: validQuery ? `${path}?${validQuery}` : path });
  const schema = route.schema as { body?: Schema; querystring?: Schema; params?: Schema };
  const cases: BadCase[] = [];
  if (schema.body) cases.push(...bodyCases(schema.body).map(at));
  else cases.push(...noBodyCases().map(at));
  for (const q of queryCases(schema.querystring, fill.query))
    cases.push({ label: q.label, url: `${path}?${q.query}` });
  if (route.url.includes(':')) {
    for (const p of BAD_PARAMS) {
      cases.push({
        label: `param ${p.slice(0, 20)}`,
        url: route.url.replace(/:\w+/, p).replace(/:\w+/g, 'x'),
      });
    }
  }
  return cases;
}

/** fast-check's JSON values: random structures of every type, none of which the declared object body is. */
export const nonObjectJson = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string(),
  fc.boolean(),
  fc.array(fc.jsonValue(), { maxLength: 5 }),
);
