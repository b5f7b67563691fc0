import type { FastifyInstance, FastifyRequest } from 'fastify';
import { StintError } from '../domain/errors.js';

/** Deeper than any body the API or SCIM takes (a SCIM PATCH is about five levels): the rest is an attack. */
export const MAX_JSON_DEPTH = 32;

// In a /u regex a surrogate only matches when it is unpaired: text that has no UTF-8 form, which the audit
// trail's canonical JSON (RFC 8785) and PostgreSQL both refuse further down, as a 500.
const LONE_SURROGATE = /\p{Surrogate}/u;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Text no store keeps as given: a lone surrogate has no UTF-8 form, and PostgreSQL's text cannot hold U+0000
 * (both became 500s further down). Checked in JSON bodies, query strings and path parameters alike.
 */
export function textProblem(value: string): string | null {
  if (LONE_SURROGATE.test(value)) return 'a string holds a lone UTF-16 surrogate';
  if (value.includes('\u0000')) return 'a string holds a NUL character (U+0000)';
  return null;
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/**
 * What JSON.parse lets through but Stint refuses: a key twice in one object (RFC 8259 leaves the meaning open,
 * so two parsers can read two different requests), nesting deeper than MAX_JSON_DEPTH, and strings or keys
 * that textProblem refuses. Returns null for text that is fine or not JSON at all (JSON.parse says so).
 */
export function jsonTextProblem(text: string): string | null {
  // One entry per open container: the keys seen so far in an object, null for an array.
  const open: (Set<string> | null)[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let end = i + 1;
      let escaped = false;
      while (end < text.length && text.charCodeAt(end) !== 0x22) {
        if (text.charCodeAt(end) === 0x5c) {
          escaped = true;
          end++;
        }
        end++;
      }
      let value = text.slice(i + 1, end);
      if (escaped) {
        try {
          value = JSON.parse(text.slice(i, end + 1)) as string;
        } catch {
          return null;
        }
      }
      const bad = textProblem(value);
      if (bad) return bad;
      let next = end + 1;
      while (next < text.length && isSpace(text.charCodeAt(next))) next++;
      const keys = open[open.length - 1];
      if (keys && text.charCodeAt(next) === 0x3a) {
        if (keys.has(value)) return `the key "${value.slice(0, 100)}" appears twice in one object`;
        keys.add(value);
      }
      i = end + 1;
      continue;
    }
    if (c === 0x7b || c === 0x5b) {
      if (open.length >= MAX_JSON_DEPTH) return `nested deeper than ${MAX_JSON_DEPTH} levels`;
      open.push(c === 0x7b ? new Set() : null);
    } else if (c === 0x7d || c === 0x5d) {
      open.pop();
    }
    i++;
  }
  return null;
}

type Done = (err: Error | null, body?: unknown) => void;

/**
 * The JSON body parser of every route (and of SCIM's `application/scim+json`): UTF-8 only (RFC 8259), checked
 * by jsonTextProblem, then parsed as Fastify does (a `__proto__` or `constructor` key is refused). An empty
 * body is no body, whatever the content type says: a DELETE from an IdP that always sends the header must
 * work, and a route that needs a body refuses the missing one in validation.
 */
export function strictJsonParser(app: FastifyInstance) {
  const parse = app.getDefaultJsonParser('error', 'error');
  const check = (body: Buffer): { text: string } | { error: StintError } | null => {
    if (body.length === 0) return null;
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      return { error: new StintError('BAD_REQUEST', 'the body is not valid UTF-8') };
    }
    const problem = jsonTextProblem(text);
    return problem
      ? { error: new StintError('BAD_REQUEST', `the JSON body is refused: ${problem}`) }
      : { text };
  };
  return (request: FastifyRequest, body: Buffer, done: Done): void => {
    const checked = check(body);
    if (checked === null) done(null, undefined);
    else if ('error' in checked) done(checked.error);
    else {
      parse(request, checked.text, (err, parsed) =>
        err ? done(new StintError('BAD_REQUEST', err.message)) : done(null, parsed),
      );
    }
  };
}

/** Replaces Fastify's JSON parser on `app` (and the plugins registered after) with strictJsonParser. */
export function registerJsonBody(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, strictJsonParser(app));
}
