import {
  type Document,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
  type YAMLError,
} from 'yaml';
import { z } from 'zod';
import { PolicyError } from './policy-error.js';
import type { PolicyProblem } from './policy-types.js';

/**
 * Reading a YAML file that people edit by hand, so that every problem points at a line and column: syntax
 * errors from the parser, shape errors from a zod schema, and the caller's own cross-checks, all through
 * `problem(path, message)`. Shared by the policy loader and the policy test runner.
 *
 * Messages quote ids, keys, durations and patterns, never other values: a secret pasted in the wrong place
 * must not travel on into logs through an error message.
 */

export type PathSegment = string | number;
export type Path = readonly PathSegment[];

export interface YamlSource {
  file: string;
  /** The document as plain data; only ever handed out when it parsed without a single error. */
  data: unknown;
  /**
   * A problem at the node `path` names, or at the nearest ancestor that exists (a missing field points at the
   * map that lacks it). `at: 'key'` points at the key of the last segment rather than its value.
   */
  problem(path: Path, message: string, at?: 'key' | 'value'): PolicyProblem;
  /** Where `path` is, found as for `problem`; 1-based. */
  position(path: Path, at?: 'key' | 'value'): { line: number; column: number };
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `rules[2].duration.max`; odd keys are quoted so the path stays unambiguous. */
export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (IDENT.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

function keyOf(node: unknown): string | undefined {
  return isScalar(node) ? String(node.value) : undefined;
}

function contains(node: unknown, offset: number): node is Node {
  return isNode(node) && node.range != null && node.range[0] <= offset && offset < node.range[2];
}

/** The path of the innermost node at `offset`, to name the key a duplicate-key error sits on. */
function pathAt(doc: Document, offset: number): PathSegment[] {
  const path: PathSegment[] = [];
  let node: unknown = doc.contents;
  for (;;) {
    let inner: unknown;
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = keyOf(pair.key) ?? '?';
        if (contains(pair.key, offset)) return [...path, key];
        if (contains(pair.value, offset)) {
          path.push(key);
          inner = pair.value;
          break;
        }
      }
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => contains(item, offset));
      if (index >= 0) {
        path.push(index);
        inner = node.items[index];
      }
    }
    if (inner === undefined) return path;
    node = inner;
  }
}

/** Start offset of the node `path` names, or of its nearest existing ancestor. */
function offsetOf(doc: Document, path: Path, at: 'key' | 'value'): number {
  let node: unknown = doc.contents;
  let offset = isNode(node) && node.range ? node.range[0] : 0;
  for (const [i, seg] of path.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    let next: unknown;
    let keyStart: number | undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => keyOf(p.key) === String(seg));
      if (pair === undefined) return offset;
      keyStart = isNode(pair.key) && pair.key.range ? pair.key.range[0] : undefined;
      if (i === path.length - 1 && at === 'key' && keyStart !== undefined) return keyStart;
      next = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      next = node.items[seg];
    }
    if (next === undefined) return offset;
    // Point at the key when the value starts elsewhere: `key:` with nothing after it (an empty scalar) or a
    // block map or list, which begins on the next line.
    const empty = isScalar(next) && next.value === null && next.range && next.range[0] === next.range[1];
    const block = (isMap(next) || isSeq(next)) && !next.flow;
    if (keyStart !== undefined && (empty || block)) offset = keyStart;
    else if (isNode(next) && next.range) offset = next.range[0];
    node = next;
  }
  return offset;
}

function yamlMessage(e: YAMLError): string {
  switch (e.code) {
    case 'DUPLICATE_KEY':
      return 'duplicate key: each key may appear once in a map';
    case 'MULTIPLE_DOCS':
      return 'the file must hold a single YAML document (remove the extra "---")';
    default:
      return `invalid YAML: ${e.message}`;
  }
}

/** Parses YAML strictly: any syntax error or warning (an unknown tag, say) throws a located PolicyError. */
export function readYaml(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });

  const position = (path: Path, at: 'key' | 'value' = 'value') => {
    const { line, col } = lineCounter.linePos(offsetOf(doc, path, at));
    return { line, column: col };
  };
  const problem = (path: Path, message: string, at: 'key' | 'value' = 'value'): PolicyProblem => ({
    file,
    ...position(path, at),
    field: formatPath(path),
    message,
  });
  const problemAt = (offset: number, message: string, field = ''): PolicyProblem => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col, field, message };
  };

  // Only a duplicate key leaves the structure sound enough to name the field; after other syntax errors the
  // path the parser recovered would mislead.
  const problems = [...doc.errors, ...doc.warnings].map((e) =>
    problemAt(e.pos[0], yamlMessage(e), e.code === 'DUPLICATE_KEY' ? formatPath(pathAt(doc, e.pos[0])) : ''),
  );
  visit(doc, {
    Alias(_, alias) {
      if (alias.resolve(doc) === undefined) {
        problems.push(problemAt(alias.range?.[0] ?? 0, `alias *${alias.source} has no anchor before it`));
      }
    },
  });
  if (problems.length > 0) throw new PolicyError(problems);

  let data: unknown;
  try {
    // The default alias budget stops "billion laughs" expansion.
    data = doc.toJS();
  } catch (e) {
    throw new PolicyError([problemAt(0, `invalid YAML: ${e instanceof Error ? e.message : String(e)}`)]);
  }
  return { file, data, problem, position };
}

// ---------------------------------------------------------------------------------------------------------------
// zod, located

/** zod reports all unknown keys of one object as one issue; one message per key travels joined by this. */
const KEY_SEPARATOR = '\u0000';

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = row;
  }
  return prev[b.length] as number;
}

export function unknownFieldMessage(key: string, known: readonly string[]): string {
  const lower = key.toLowerCase();
  const best = known
    .map((k) => ({ k, d: editDistance(lower, k.toLowerCase()) }))
    .sort((x, y) => x.d - y.d)[0];
  if (best !== undefined && best.d <= Math.max(1, Math.floor(best.k.length / 3))) {
    return `unknown field "${key}" (did you mean "${best.k}"?)`;
  }
  return known.length > 0
    ? `unknown field "${key}"; expected one of: ${known.join(', ')}`
    : `unknown field "${key}"`;
}

/**
 * A `.strict()` object whose unknown-key problem names each unknown key and, for a typo, the field meant.
 * `unknownKey` and `notAMap` override the messages, e.g. to refuse an inline secret in plain words.
 */
export function strictObject<T extends z.core.$ZodLooseShape>(
  shape: T,
  messages: { unknownKey?: (key: string) => string; notAMap?: string } = {},
): z.ZodObject<z.core.util.Writeable<T>, z.core.$strict> {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') {
        return iss.keys
          .map((k) => messages.unknownKey?.(k) ?? unknownFieldMessage(k, known))
          .join(KEY_SEPARATOR);
      }
      if (iss.code === 'invalid_type' && iss.input !== undefined) return messages.notAMap;
      return undefined;
    },
  });
}

const EXPECTED: Record<string, string> = {
  object: 'a map',
  record: 'a map',
  array: 'a list',
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
};

function describe(value: unknown): string {
  if (value === null) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return 'text';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return `a ${typeof value}`;
}

/** Plain-words messages for zod's built-in issues; schemas that know better set their own. */
const errorMap: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'required field is missing';
      return `expected ${EXPECTED[iss.expected] ?? iss.expected}, got ${describe(iss.input)}`;
    case 'invalid_value':
      if (iss.input === undefined) return 'required field is missing';
      return iss.values.length === 1
        ? `must be ${JSON.stringify(iss.values[0])}`
        : `must be one of: ${iss.values.map(String).join(', ')}`;
    case 'too_small':
      if (iss.origin === 'array') return `must list at least ${iss.minimum}`;
      if (iss.origin === 'string') return 'must not be empty';
      return undefined;
    case 'too_big':
      if (iss.origin === 'array') return `must list at most ${iss.maximum}`;
      if (iss.origin === 'string') return `must be at most ${iss.maximum} characters`;
      return undefined;
    default:
      return undefined;
  }
};

function issueProblems(issue: z.core.$ZodIssue, source: YamlSource): PolicyProblem[] {
  const path = issue.path.map((seg) => (typeof seg === 'number' ? seg : String(seg)));
  if (issue.code === 'unrecognized_keys') {
    const messages = issue.message.split(KEY_SEPARATOR);
    return issue.keys.map((key, i) =>
      source.problem([...path, key], messages[i] ?? `unknown field "${key}"`, 'key'),
    );
  }
  if (issue.code === 'invalid_key') {
    return [source.problem(path, issue.issues[0]?.message ?? 'invalid key', 'key')];
  }
  return [source.problem(path, issue.message)];
}

/** Validates the whole document against `schema`; every issue becomes a located problem, all thrown together. */
export function parseWith<S extends z.ZodType>(source: YamlSource, schema: S): z.output<S> {
  const result = schema.safeParse(source.data, { error: errorMap });
  if (!result.success) {
    throw new PolicyError(result.error.issues.flatMap((issue) => issueProblems(issue, source)));
  }
  return result.data;
}

/**
 * Validates one value of the document found at `at` against a schema known only at load (a target kind's
 * options or grants): its problems are located like the file's own.
 */
export function parseAt<S extends z.ZodType>(
  source: YamlSource,
  schema: S,
  value: unknown,
  at: Path,
): { ok: true; data: z.output<S> } | { ok: false; problems: PolicyProblem[] } {
  const result = schema.safeParse(value, { error: errorMap });
  if (result.success) return { ok: true, data: result.data };
  return {
    ok: false,
    problems: result.error.issues.flatMap((issue) =>
      issueProblems({ ...issue, path: [...at, ...issue.path] } as z.core.$ZodIssue, source),
    ),
  };
}

/** Throws every problem at once, or nothing. */
export function throwIfAny(problems: readonly PolicyProblem[]): void {
  if (problems.length > 0) throw new PolicyError(problems);
}
