import { StintError } from '../domain/errors.js';

/** A stretch of time a report or an evidence pack covers: [since, until), in UTC. */
export interface Period {
  /** `2026-Q3`, `2026-07`, `2026`, or `<since>..<until>` for an explicit range. */
  label: string;
  since: Date;
  until: Date;
}

const DAY_MS = 86_400_000;

const bad = (message: string) => new StintError('BAD_REQUEST', message);

const utc = (year: number, monthIndex: number) => new Date(Date.UTC(year, monthIndex, 1));

/**
 * A named period: a quarter (`2026-Q3`: July to September), a month (`2026-07`) or a year (`2026`), all UTC,
 * the way audits name them.
 */
export function parsePeriod(text: string): Period {
  const quarter = /^(\d{4})-Q([1-4])$/i.exec(text);
  if (quarter) {
    const year = Number(quarter[1]);
    const q = Number(quarter[2]);
    return { label: `${year}-Q${q}`, since: utc(year, (q - 1) * 3), until: utc(year, q * 3) };
  }
  const month = /^(\d{4})-(\d{2})$/.exec(text);
  if (month) {
    const m = Number(month[2]);
    if (m < 1 || m > 12) throw bad(`period ${text}: no month ${month[2]}`);
    return { label: text, since: utc(Number(month[1]), m - 1), until: utc(Number(month[1]), m) };
  }
  if (/^\d{4}$/.test(text)) {
    return { label: text, since: utc(Number(text), 0), until: utc(Number(text) + 1, 0) };
  }
  throw bad(`period ${JSON.stringify(text)} is not a quarter (2026-Q3), a month (2026-07) or a year (2026)`);
}

/**
 * `2026-07-31` is that whole UTC day (as `since` its start, as `until` its end, so since 2026-07-01 until
 * 2026-07-31 is all of July); otherwise an ISO 8601 time with its zone, since a time without one would mean
 * whatever zone the machine reading it is in.
 */
export function parseInstant(text: string, role: 'since' | 'until'): Date {
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const day = new Date(`${text}T00:00:00.000Z`);
    if (Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== text) {
      throw bad(`${role} ${text} is not a date`);
    }
    return role === 'until' ? new Date(day.getTime() + DAY_MS) : day;
  }
  if (!/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:?\d{2})$/i.test(text)) {
    throw bad(`${role} takes YYYY-MM-DD (a UTC day) or an ISO time with a zone like 2026-07-01T00:00:00Z`);
  }
  const when = new Date(text);
  if (Number.isNaN(when.getTime())) throw bad(`${role} ${text} is not a valid time`);
  return when;
}

/** The period a caller named: `period`, or `since` and `until` together; never both, never neither. */
export function periodOf(q: { period?: string; since?: string; until?: string }): Period {
  if (q.period !== undefined) {
    if (q.since !== undefined || q.until !== undefined) {
      throw bad('give either a period or since and until, not both');
    }
    return parsePeriod(q.period);
  }
  if (q.since === undefined || q.until === undefined) {
    throw bad('name the period: period=2026-Q3, or since and until');
  }
  const since = parseInstant(q.since, 'since');
  const until = parseInstant(q.until, 'until');
  if (until.getTime() <= since.getTime()) throw bad('until must be after since');
  return { label: `${since.toISOString()}..${until.toISOString()}`, since, until };
}
