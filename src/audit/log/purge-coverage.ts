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

/** The range a genuine-looking purge event covers, or null when it covers nothing. */
export function purgeRange(body: string, seq: number): Run | null {
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
  // The purge may only reach events older than the retention it states.
  if (
    !Number.isFinite(time) ||
    !Number.isFinite(cutoff) ||
    cutoff > time - (retentionDays as number) * DAY_MS
  ) {
    return null;
  }
  return { start: start as number, end: end as number };
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

  note(index: number, data: string | Uint8Array | null): void {
    if (data === null) {
      const last = this.#pending.at(-1);
      if (last && last.end === index) last.end++;
      else this.#pending.push({ start: index, end: index + 1 });
      return;
    }
    if (this.#pending.length === 0) return;
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
    const range = purgeRange(text, index);
    if (range) this.#purges.push({ seq: index, range });
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
