import { type PurgeClaim, type PurgeRule, RetentionRule } from './purge-rules.js';
import type { VerifyProblem } from './verify-problem.js';

const DAY_MS = 86_400_000;
/** PCI DSS 10.5.1: no purge may claim a shorter retention than a year. */
export const MIN_PURGE_RETENTION_DAYS = 365;
/** Only the structural key can hold this unescaped: a cheap test before parsing an event. */
const PURGE_MARK = '"action":"audit.purged"';

interface Run {
  start: number;
  end: number;
}

/** What a genuine-looking purge event claims, or null when the body is no purge event (or a malformed one). */
export function purgeClaim(body: string, seq: number): PurgeClaim | null {
  if (!body.includes(PURGE_MARK)) return null;
  let event: {
    action?: unknown;
    time?: unknown;
    details?: { before?: unknown; retentionDays?: unknown; range?: { start?: unknown; end?: unknown } };
  };
  try {
    event = JSON.parse(body);
  } catch {
    return null;
  }
  if (event.action !== 'audit.purged' || typeof event.time !== 'string') return null;
  const { before, retentionDays, range } = event.details ?? {};
  const start = range?.start;
  const end = range?.end;
  if (
    typeof before !== 'string' ||
    !Number.isSafeInteger(retentionDays) ||
    (retentionDays as number) < MIN_PURGE_RETENTION_DAYS ||
    !Number.isSafeInteger(start) ||
    !Number.isSafeInteger(end) ||
    (start as number) < 0 ||
    (end as number) < (start as number) ||
    (end as number) > seq
  ) {
    return null;
  }
  const time = Date.parse(event.time);
  const cutoff = Date.parse(before);
  if (!Number.isFinite(time) || !Number.isFinite(cutoff)) return null;
  return {
    seq,
    time,
    before: cutoff,
    retentionDays: retentionDays as number,
    range: { start: start as number, end: end as number },
  };
}

/** The range a genuine-looking purge event covers, or null when it covers nothing. */
export function purgeRange(body: string, seq: number): Run | null {
  const claim = purgeClaim(body, seq);
  // The purge may only reach events older than the retention it states.
  if (!claim || claim.before > claim.time - claim.retentionDays * DAY_MS) return null;
  return claim.range;
}

/**
 * Every event whose body is gone must be covered by a later `audit.purged` event, itself covered by a signed
 * checkpoint (the server signs only leaves with its MAC, so a signed purge event is one a Stint server
 * recorded), whose range holds it and whose retention it is older than. Anything else is an erasure: someone
 * with write access to the store blanked what an event said. Null bodies are kept as runs (purges blank long
 * contiguous stretches) and purge events are few, so memory stays small however much retention purged.
 */
export class PurgeCoverage {
  #pending: Run[] = [];
  #purges: { seq: number; range: Run }[] = [];
  readonly #rules: readonly PurgeRule[];
  #bad: VerifyProblem | null = null;

  /** `rules`: what no purge may cover (purge-rules.ts); the retention rule by default. */
  constructor(rules: readonly PurgeRule[] = [new RetentionRule()]) {
    this.#rules = rules;
  }

  note(index: number, data: string | Uint8Array | null): void {
    if (data === null) {
      const last = this.#pending.at(-1);
      if (last && last.end === index) last.end++;
      else this.#pending.push({ start: index, end: index + 1 });
      return;
    }
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
    const claim = purgeClaim(text, index);
    if (claim) {
      // Every purge is judged, signed or not: a forged one aimed at young events is named even before a
      // store writer manages to blank anything under it.
      for (const rule of this.#rules) {
        const why = this.#bad ? null : rule.violation(claim);
        if (why) {
          this.#bad = {
            code: 'BAD_PURGE',
            index,
            message: `the purge event ${index} (events ${claim.range.start}..${claim.range.end - 1}) breaks the purge rules: ${why}`,
          };
        }
      }
      const range = purgeRange(text, index);
      if (range && !this.#bad) this.#purges.push({ seq: index, range });
    }
    for (const rule of this.#rules) rule.observe(index, text);
  }

  #cover(range: Run): void {
    const kept: Run[] = [];
    for (const run of this.#pending) {
      if (run.end <= range.start || run.start >= range.end) kept.push(run);
      else {
        if (run.start < range.start) kept.push({ start: run.start, end: range.start });
        if (run.end > range.end) kept.push({ start: range.end, end: run.end });
      }
    }
    this.#pending = kept;
  }

  /** Null bodies not covered by a purge event below `anchored` (the size a signed checkpoint covers). */
  /** The first purge event that breaks a purge rule, signed or not. */
  badPurge(): VerifyProblem | null {
    return this.#bad;
  }

  problem(anchored: number): VerifyProblem | null {
    for (const purge of this.#purges) if (purge.seq < anchored) this.#cover(purge.range);
    this.#purges = [];
    const first = this.#pending[0];
    if (!first) return null;
    const which =
      first.end - first.start === 1 ? `event ${first.start}` : `events ${first.start}..${first.end - 1}`;
    return {
      code: 'ERASED',
      index: first.start,
      message: `${which} lost their body without a recorded purge covering them: the trail was altered`,
    };
  }
}
