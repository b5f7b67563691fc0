/**
 * What a purge may never cover, as the verifiers check it from the trail itself: each rule watches the events
 * in log order and judges every `audit.purged` event it meets. The retention rule is here; session reviews
 * still open and break-glass uses (later capabilities) add their rules beside it, and their `PurgeHold` on the
 * server side (audit/purge-holds.ts), so what the server refuses to purge and what verifiers flag stay one rule.
 */

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** The action that records the retention in force (audit-retention.ts writes it). */
export const RETENTION_ACTION = 'audit.retention';
const RETENTION_MARK = `"action":"${RETENTION_ACTION}"`;
/** In a canonical (JCS) event only `v` sorts after `time`, so the last `"time":"` is the event's own. */
const TIME_MARK = '"time":"';

/** What a purge event claims. */
export interface PurgeClaim {
  seq: number;
  time: number;
  before: number;
  retentionDays: number;
  range: { start: number; end: number };
}

export interface PurgeRule {
  /** Sees every event with a body, in log order, before any purge event that follows it. */
  observe(seq: number, body: string): void;
  /** Why this purge breaks the rule, or null. */
  violation(purge: PurgeClaim): string | null;
}

/**
 * A purge never covers events younger than the retention in force when it ran. The retention in force is the
 * one the latest `audit.retention` event before the purge records (when none is in the verified part, as in
 * an export starting later or a trail from before these events, the purge's own claim of at least 365 days).
 * The purge must claim at least that retention, its cutoff must be at least that long before its own time,
 * and its range must end before the first event (still holding its body) that is younger than its cutoff.
 * Events are placed by hour (the first seq seen in each hour): memory is one entry per hour of the log, and
 * an event younger than the cutoff by less than an hour is not told apart.
 */
export class RetentionRule implements PurgeRule {
  #retentionDays: number | null = null;
  #lastHour = '';
  readonly #hourStarts: number[] = [];
  readonly #firstSeqs: number[] = [];

  observe(seq: number, body: string): void {
    const at = body.lastIndexOf(TIME_MARK);
    if (at >= 0) {
      const hour = body.slice(at + TIME_MARK.length, at + TIME_MARK.length + 13);
      if (hour > this.#lastHour) {
        const start = Date.parse(`${hour}:00:00.000Z`);
        if (Number.isFinite(start)) {
          this.#lastHour = hour;
          this.#hourStarts.push(start);
          this.#firstSeqs.push(seq);
        }
      }
    }
    if (body.includes(RETENTION_MARK)) {
      try {
        const event = JSON.parse(body) as { action?: unknown; details?: { retentionDays?: unknown } };
        const days = event.details?.retentionDays;
        if (event.action === RETENTION_ACTION && Number.isSafeInteger(days))
          this.#retentionDays = days as number;
      } catch {
        // A body that does not parse records nothing; CHANGED or MALFORMED names it elsewhere.
      }
    }
  }

  /** The first seq of an event stamped at or after `time` (to the hour), if any. */
  #firstSeqFrom(time: number): number | undefined {
    const hour = Math.ceil(time / HOUR_MS) * HOUR_MS;
    let lo = 0;
    let hi = this.#hourStarts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.#hourStarts[mid] as number) < hour) lo = mid + 1;
      else hi = mid;
    }
    return this.#firstSeqs[lo];
  }

  violation(purge: PurgeClaim): string | null {
    const inForce = this.#retentionDays ?? purge.retentionDays;
    if (purge.retentionDays < inForce) {
      return `it claims a retention of ${purge.retentionDays} days but ${inForce} were in force`;
    }
    if (purge.before > purge.time - inForce * DAY_MS) {
      return `its cutoff is less than the ${inForce} days of retention in force before it ran`;
    }
    const young = this.#firstSeqFrom(purge.before);
    if (young !== undefined && young < purge.range.end) {
      return `its range reaches event ${young}, younger than its cutoff`;
    }
    return null;
  }
}
