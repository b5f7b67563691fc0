import { StintError } from './errors.js';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const PART = /(\d+)([smhd])/g;
// Units at most once each, largest first: `1h30m`, not `30m1h` or `1h1h`.
const WHOLE = /^(?=\d)(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?$/;

/** Parses `90m`, `2h`, `1h30m` into seconds. Anything else, zero included, is refused. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (!WHOLE.test(trimmed)) {
    throw new StintError(
      'INVALID_DURATION',
      `"${text}" is not a duration: use a number with s, m, h or d, e.g. 90m or 2h`,
    );
  }
  let seconds = 0;
  for (const [, n, unit] of trimmed.matchAll(PART)) {
    seconds += Number(n) * (UNIT_SECONDS[unit as string] as number);
  }
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new StintError('INVALID_DURATION', `duration must be greater than zero, got "${text}"`);
  }
  return seconds;
}

/** Inverse of parseDuration for display: 5400 → "1h30m". */
export function formatDuration(seconds: number): string {
  if (seconds <= 0) return '0s';
  let rest = Math.floor(seconds);
  let out = '';
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
