import { createRequire } from 'node:module';
import type TableType from 'cli-table3';
import { formatDuration } from '../domain/duration.js';

export interface TextSink {
  write(chunk: string): unknown;
}

export interface Output {
  readonly json: boolean;
  /** --json prints `value` as it came from the API; otherwise `human` renders it for a person. */
  result(value: unknown, human: () => void): void;
  line(text?: string): void;
  /** Notes for a person (warnings, hints) go to stderr so they never pollute piped output. */
  note(text: string): void;
  table(head: string[], rows: string[][]): void;
  /** Aligned `key: value` lines; rows with value undefined are left out. */
  fields(rows: [string, string | undefined][]): void;
  /** `2025-03-04 14:05 (in 1h59m)`; null/undefined → `-`. */
  when(iso: string | null | undefined, opts?: { seconds?: boolean }): string;
}

/**
 * cli-table3 and its string-width dependencies cost every run a few milliseconds of loading (issue 27), and only
 * listings draw tables; it is CommonJS, so it is required on first use, synchronously.
 */
const loadTable = (): typeof TableType => createRequire(import.meta.url)('cli-table3') as typeof TableType;

const pad = (n: number) => String(n).padStart(2, '0');

/** Local time, ISO-like, without the zone: people read their own clock. */
export function formatLocalTime(date: Date, opts: { seconds?: boolean } = {}): string {
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  return `${day} ${time}${opts.seconds ? `:${pad(date.getSeconds())}` : ''}`;
}

/**
 * `in 1h59m`, `3m ago`, `now`. Precision shrinks with distance (days+hours, hours+minutes, minutes, seconds):
 * nobody needs the seconds of something two hours away.
 */
export function formatRelative(date: Date, now: Date): string {
  const diff = Math.trunc((date.getTime() - now.getTime()) / 1000);
  const abs = Math.abs(diff);
  if (abs < 1) return 'now';
  const step = abs >= 86_400 ? 3600 : abs >= 60 ? 60 : 1;
  const text = formatDuration(abs - (abs % step));
  return diff > 0 ? `in ${text}` : `${text} ago`;
}

export function formatWhen(
  iso: string | null | undefined,
  now: Date,
  opts: { seconds?: boolean } = {},
): string {
  if (!iso) return '-';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${formatLocalTime(date, opts)} (${formatRelative(date, now)})`;
}

export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** `now` is read at each use, so relative times are taken after the server answered, not before the call. */
export function createOutput(opts: {
  stdout: TextSink;
  stderr: TextSink;
  json: boolean;
  now: () => Date;
}): Output {
  const { stdout, stderr, json, now } = opts;
  const line = (text = '') => {
    stdout.write(`${text}\n`);
  };
  return {
    json,
    result(value, human) {
      if (json) line(JSON.stringify(value, null, 2));
      else human();
    },
    line,
    note(text) {
      stderr.write(`${text}\n`);
    },
    table(head, rows) {
      // No colours (output is read in logs and pipes as often as in terminals) and no rule between rows.
      const Table = loadTable();
      const table = new Table({
        head,
        style: { head: [], border: [] },
        chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
      });
      table.push(...rows);
      line(table.toString());
    },
    fields(rows) {
      const shown = rows.filter((r): r is [string, string] => r[1] !== undefined);
      const width = Math.max(0, ...shown.map(([k]) => k.length)) + 1;
      for (const [k, v] of shown) line(`${`${k}:`.padEnd(width)} ${v}`);
    },
    when: (iso, o) => formatWhen(iso, now(), o),
  };
}
