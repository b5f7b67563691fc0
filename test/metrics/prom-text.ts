/**
 * A strict parser of the Prometheus text exposition format 0.0.4, written from its specification
 * (prometheus.io/docs/instrumenting/exposition_formats/) rather than from what the exporter happens to print:
 * it refuses what a Prometheus server would refuse and a few things it would merely frown on (a family split in
 * two, a sample before its TYPE, a repeated label set, a histogram whose buckets do not add up). No package here
 * parses the format (prom-client only writes it; promtool is not installed).
 */

export type FamilyType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

export interface Family {
  name: string;
  type: FamilyType;
  help?: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set<FamilyType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export class ExpositionError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
  }
}

/** Go's ParseFloat as Prometheus uses it: decimal or exponent forms, NaN and ±Inf in any case. */
function parseValue(text: string, line: number): number {
  if (/^[+-]?inf(inity)?$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(text)) return Number.NaN;
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
    throw new ExpositionError(line, `${JSON.stringify(text)} is not a float`);
  }
  return Number(text);
}

function unescapeText(text: string, allowQuote: boolean, line: number): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = text[++i];
    if (next === '\\') out += '\\';
    else if (next === 'n') out += '\n';
    else if (next === '"' && allowQuote) out += '"';
    else throw new ExpositionError(line, `bad escape \\${next ?? ''}`);
  }
  return out;
}

/** The family a sample belongs to: histogram and summary samples carry a suffix. */
function familyOf(name: string, families: Map<string, Family>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      const f = families.get(base);
      if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return base;
    }
  }
  return name;
}

function parseSample(text: string, line: number): Sample {
  const name = METRIC_NAME.exec(text)?.[0];
  if (!name) throw new ExpositionError(line, 'a sample must start with a metric name');
  let rest = text.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    rest = rest.slice(1);
    for (;;) {
      rest = rest.replace(/^[ \t]*/, '');
      if (rest.startsWith('}')) {
        rest = rest.slice(1);
        break;
      }
      const label = LABEL_NAME.exec(rest)?.[0];
      if (!label) throw new ExpositionError(line, `bad label name in ${JSON.stringify(text)}`);
      if (Object.hasOwn(labels, label)) throw new ExpositionError(line, `label ${label} given twice`);
      rest = rest.slice(label.length).replace(/^[ \t]*/, '');
      if (!rest.startsWith('="')) throw new ExpositionError(line, `label ${label}: expected ="`);
      rest = rest.slice(2);
      let end = 0;
      while (end < rest.length && rest[end] !== '"') end += rest[end] === '\\' ? 2 : 1;
      if (end >= rest.length) throw new ExpositionError(line, `label ${label}: unterminated value`);
      labels[label] = unescapeText(rest.slice(0, end), true, line);
      rest = rest.slice(end + 1).replace(/^[ \t]*/, '');
      if (rest.startsWith(',')) rest = rest.slice(1);
      else if (!rest.startsWith('}')) throw new ExpositionError(line, `expected , or } after label ${label}`);
    }
  }
  if (!/^[ \t]/.test(rest)) throw new ExpositionError(line, 'expected whitespace before the value');
  const parts = rest.trim().split(/[ \t]+/);
  if (parts.length < 1 || parts.length > 2)
    throw new ExpositionError(line, 'expected a value and an optional timestamp');
  const value = parseValue(parts[0] as string, line);
  const sample: Sample = { name, labels, value };
  if (parts[1] !== undefined) {
    if (!/^-?\d+$/.test(parts[1])) throw new ExpositionError(line, 'timestamp must be an integer (ms)');
    sample.timestamp = Number(parts[1]);
  }
  return sample;
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: a bucket without le`);
      g.buckets.push([parseValue(le, 0), s.value]);
    } else if (s.name === `${f.name}_sum`) g.sum = s.value;
    else if (s.name === `${f.name}_count`) g.count = s.value;
    else throw new Error(`${f.name}: sample ${s.name} does not belong to a histogram`);
  }
  for (const [key, g] of groups) {
    const sorted = [...g.buckets].sort((a, b) => a[0] - b[0]);
    const inf = sorted.at(-1);
    if (!inf || inf[0] !== Infinity) throw new Error(`${f.name}${key}: no le="+Inf" bucket`);
    for (let i = 1; i < sorted.length; i++) {
      if ((sorted[i] as [number, number])[1] < (sorted[i - 1] as [number, number])[1]) {
        throw new Error(`${f.name}${key}: buckets are not cumulative`);
      }
    }
    if (g.count === undefined || g.sum === undefined)
      throw new Error(`${f.name}${key}: _sum or _count missing`);
    if (g.count !== inf[1]) throw new Error(`${f.name}${key}: _count ${g.count} ≠ +Inf bucket ${inf[1]}`);
  }
}

/** Parses a whole exposition; throws ExpositionError (or Error for a histogram that does not add up). */
export function parseExposition(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n'))
    throw new ExpositionError(0, 'the exposition must end with a newline');
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  const typed = new Set<string>();
  let current: string | null = null;
  const lines = text.split('\n');
  lines.pop();
  const enter = (name: string, n: number): Family => {
    if (current !== name) {
      if (closed.has(name)) throw new ExpositionError(n, `family ${name} appears in two places`);
      if (current) closed.add(current);
      current = name;
    }
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.replace(/^[ \t]+/, '');
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      if (!m) return; // a comment
      const [, kind, name = '', arg = ''] = m;
      if (!METRIC_NAME.test(name) || METRIC_NAME.exec(name)?.[0] !== name) {
        throw new ExpositionError(n, `${JSON.stringify(name)} is not a metric name`);
      }
      const f = enter(name, n);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new ExpositionError(n, `second HELP for ${name}`);
        f.help = unescapeText(arg, false, n);
      } else {
        if (f.samples.length > 0) throw new ExpositionError(n, `TYPE of ${name} after its samples`);
        if (!TYPES.has(arg as FamilyType))
          throw new ExpositionError(n, `unknown type ${JSON.stringify(arg)}`);
        if (typed.has(name)) throw new ExpositionError(n, `second TYPE for ${name}`);
        typed.add(name);
        f.type = arg as FamilyType;
      }
      return;
    }
    const sample = parseSample(line, n);
    const f = enter(familyOf(sample.name, families), n);
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (f.samples.some((s) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}` === key)) {
      throw new ExpositionError(n, `repeated sample ${key}`);
    }
    if (f.type === 'histogram' && sample.name === f.name) {
      throw new ExpositionError(n, `histogram ${f.name} has a bare sample`);
    }
    f.samples.push(sample);
  });
  for (const f of families.values()) {
    if (f.type === 'histogram') checkHistogram(f);
    if (f.type === 'counter' && f.samples.some((s) => s.value < 0))
      throw new Error(`counter ${f.name} is negative`);
  }
  return families;
}

/** The value of one sample of a family, found by its labels (exactly those labels); undefined if absent. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
  family = name,
): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  return families
    .get(family)
    ?.samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}
