import { setFlagsFromString } from 'node:v8';

/**
 * How the server's V8 heap is sized. V8 sizes its heap from the machine's memory, not from what a server needs:
 * on a 24 GB host the young generation grows to 64 MB during start alone, and the old space is let to reach 2–3×
 * the live data before a full collection. Stint's live heap is ~35–40 MB with 10,000 grants (docs/performance.md,
 * Server memory), so `lean` (the default) keeps the young generation at its starting size (2 MB) and lets the old
 * space grow 25 % past the live data between full collections: peak RSS with 10,000 grants 320–330 → 180–190 MB,
 * for more collections: at full load about 15–20 % more time per request cycle (docs/performance.md). A server
 * run flat out, or holding far more live data, may prefer `v8`, which leaves V8's own sizing as plain `node` has it.
 *
 * Both flags are read by V8 at each collection, so setting them at run time takes effect. Flags the operator gave
 * `node` (on the command line or in NODE_OPTIONS) win: nothing here overrides a choice someone made.
 */
export const HEAP_PROFILES = ['lean', 'v8'] as const;
export type HeapProfile = (typeof HEAP_PROFILES)[number];

const LEAN: ReadonlyArray<readonly [flag: string, value: string]> = [
  ['--semi-space-growth-factor', '1'],
  ['--heap-growing-percent', '25'],
];

/** The young-generation and old-space flags an operator may have given, which turn the profile off. */
const OPERATOR_FLAGS = [
  /--(?:max|min)[-_]semi[-_]space[-_]size/,
  /--semi[-_]space[-_]growth[-_]factor/,
  /--heap[-_]growing[-_]percent/,
  /--max[-_]old[-_]space[-_]size/,
  /--optimize[-_]for[-_]size/,
];

let applied: string[] = [];

/** The flags this process set, for the start line: empty when V8 sizes the heap. */
export function appliedHeapFlags(): readonly string[] {
  return applied;
}

function parseHeapProfile(raw: string | undefined): HeapProfile {
  const value = (raw ?? '').trim() || 'lean';
  if ((HEAP_PROFILES as readonly string[]).includes(value)) return value as HeapProfile;
  // The config loader refuses it as CONFIG_INVALID naming STINT_HEAP (src/app/config.ts).
  throw new Error(`STINT_HEAP must be lean or v8`);
}

/**
 * Applies the profile to this process, before the app is loaded (the young generation only stays small if it has
 * not grown yet). Returns the flags set, empty when `v8` was asked for or the operator sized the heap.
 */
export function applyHeapProfile(
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
): string[] {
  if (parseHeapProfile(env.STINT_HEAP) === 'v8') return [];
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (given.some((arg) => OPERATOR_FLAGS.some((flag) => flag.test(arg)))) return [];
  const flags = LEAN.map(([flag, value]) => `${flag}=${value}`);
  for (const flag of flags) setFlagsFromString(flag);
  applied = flags;
  return flags;
}
