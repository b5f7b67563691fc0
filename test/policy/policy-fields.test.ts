import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMap, isSeq, type Node, parseDocument, stringify } from 'yaml';
import { createPolicyHolder } from '../../src/app/policy-holder.js';
import { PolicyError } from '../../src/policy/policy-error.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import { BASE, basePolicy } from './fixtures.js';

type Path = (string | number)[];

/** Every field of the valid policy, nested ones included: `users[0].teams[1]`, `rules[2].duration.max` … */
function fieldsOf(value: unknown, at: Path = []): Path[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => [[...at, i], ...fieldsOf(v, [...at, i])]);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => [[...at, k], ...fieldsOf(v, [...at, k])]);
  }
  return [];
}

/** How the loader names a field: `rules[0].duration.max`. */
const fieldName = (path: Path) =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');

function get(data: unknown, path: Path): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], data);
}

function set(data: unknown, path: Path, value: unknown): void {
  const parent = get(data, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path[path.length - 1] as string | number] = value;
}

type Kind = 'string' | 'number' | 'boolean' | 'list' | 'map' | 'null';
const kindOf = (v: unknown): Kind =>
  v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v === 'object' ? 'map' : (typeof v as Kind);

/** Values of every YAML kind; a field is given only the kinds it does not hold (and cannot hold). */
const anyValue = fc.oneof(
  fc.string({ maxLength: 20 }).map((s) => `${s}?`),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { minLength: 1, maxLength: 3 }),
  fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), fc.integer(), { minKeys: 1, maxKeys: 2 }),
);

/** A field that may be null: the manager of someone without one. */
const nullable = (path: Path) => path[path.length - 1] === 'manager';

/** 1-based lines where the node at `path` starts, and where its key is (a block value starts a line below). */
function linesOf(text: string, path: Path): number[] {
  const doc = parseDocument(text);
  const node = doc.getIn(path, true) as Node | undefined;
  const offset = node?.range?.[0] ?? 0;
  const line = text.slice(0, offset).split('\n').length;
  return [line - 1, line];
}

function refusal(text: string) {
  try {
    parsePolicy(text, 'stint.yaml');
  } catch (e) {
    return e;
  }
  return null;
}

const FIELDS = fieldsOf(BASE);

describe('every field of a policy, given a value of the wrong kind', () => {
  it('walks every field of the valid policy', () => {
    expect(FIELDS.length).toBeGreaterThan(100);
    expect(() => parsePolicy(stringify(BASE), 'stint.yaml')).not.toThrow();
  });

  it('is refused with a problem located at that field (file:line:column: field), never another error', () => {
    const located = fc
      .tuple(fc.constantFrom(...FIELDS), anyValue)
      .filter(([path, v]) => kindOf(v) !== kindOf(get(BASE, path)) && !(v === null && nullable(path)));
    fc.assert(
      fc.property(located, ([path, value]) => {
        const data = structuredClone(BASE);
        set(data, path, value);
        const text = stringify(data);
        const e = refusal(text);
        expect(e, `${fieldName(path)} = ${JSON.stringify(value)} loaded`).toBeInstanceOf(PolicyError);
        const problems = (e as PolicyError).problems;
        const at = problems.find((p) => p.field === fieldName(path));
        expect(
          at,
          `${fieldName(path)}: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`,
        ).toBeDefined();
        expect(at?.file).toBe('stint.yaml');
        expect(linesOf(text, path)).toContain(at?.line);
        expect(at?.column).toBeGreaterThanOrEqual(1);
        expect((e as PolicyError).message).toContain(
          `stint.yaml:${at?.line}:${at?.column}: ${fieldName(path)}: `,
        );
      }),
      { numRuns: 400, seed: 16 },
    );
  });

  it('an unknown key in any map is refused at that key', () => {
    const maps = [[], ...FIELDS].filter((p) => kindOf(get(BASE, p)) === 'map');
    // Role maps are keyed by role name: an unknown key there is a new role, checked as one.
    const fixed = maps.filter((p) => p[p.length - 1] !== 'roles');
    expect(fixed.length).toBeGreaterThan(20);
    for (const path of fixed) {
      const data = structuredClone(BASE);
      (get(data, path) as Record<string, unknown>).sudo = true;
      const e = refusal(stringify(data));
      expect(e, `${fieldName(path)}.sudo loaded`).toBeInstanceOf(PolicyError);
      const field = path.length === 0 ? 'sudo' : `${fieldName(path)}.sudo`;
      const problems = (e as PolicyError).problems;
      expect(
        problems.some(
          (p) => p.field === field || (p.field === fieldName(path) && p.message.includes('sudo')),
        ),
        `${field}: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`,
      ).toBe(true);
    }
  });

  it('never half-loads: a refused reload leaves the policy in force as it was', () => {
    const before = basePolicy();
    let text = stringify(BASE);
    const holder = createPolicyHolder(before, () => parsePolicy(text, 'stint.yaml'));
    fc.assert(
      fc.property(fc.constantFrom(...FIELDS), anyValue, (path, value) => {
        if (kindOf(value) === kindOf(get(BASE, path)) || (value === null && nullable(path))) return;
        const data = structuredClone(BASE);
        set(data, path, value);
        text = stringify(data);
        expect(() => holder.reload()).toThrow(PolicyError);
        expect(holder.current()).toBe(before);
      }),
      { numRuns: 100, seed: 7 },
    );
  });

  it('a map or list where the YAML has a scalar, and the reverse, in the raw text too', () => {
    const doc = parseDocument(stringify(BASE));
    let count = 0;
    for (const path of FIELDS) {
      const node = doc.getIn(path, true);
      if (!isMap(node) && !isSeq(node)) continue;
      const broken = parseDocument(stringify(BASE));
      broken.setIn(path, 'not a collection');
      const e = refusal(broken.toString());
      expect(e, fieldName(path)).toBeInstanceOf(PolicyError);
      count++;
    }
    expect(count).toBeGreaterThan(30);
  });

  it('a text field given text it cannot hold either loads or is refused with every problem located', () => {
    const texts = FIELDS.filter((p) => kindOf(get(BASE, p)) === 'string');
    const odd = fc.constantFrom(
      '',
      ' ',
      'UPPER',
      'has space',
      '*',
      '0m',
      '-1h',
      '1d',
      'x'.repeat(100),
      '^',
      '(',
      'a\u0000b',
      'x\ud800',
    );
    let refused = 0;
    fc.assert(
      fc.property(fc.constantFrom(...texts), fc.oneof(odd, fc.string({ maxLength: 30 })), (path, value) => {
        const data = structuredClone(BASE);
        set(data, path, value);
        const e = refusal(stringify(data));
        if (e === null) return;
        refused++;
        expect(e, `${fieldName(path)} = ${JSON.stringify(value)}`).toBeInstanceOf(PolicyError);
        for (const p of (e as PolicyError).problems) {
          expect(p.file).toBe('stint.yaml');
          expect(p.line).toBeGreaterThanOrEqual(1);
          expect(p.column).toBeGreaterThanOrEqual(1);
          expect(p.message.length).toBeGreaterThan(3);
        }
      }),
      { numRuns: 400, seed: 3 },
    );
    // Most text fields are ids, durations, emails or patterns: the generator must reach their refusals.
    expect(refused).toBeGreaterThan(100);
  });
});
