import { describe, expect, it } from 'vitest';
import { formatLocalTime, formatRelative, formatWhen, truncate } from '../../src/cli/output.js';
import { shortDetails } from '../../src/cli/render-audit-event.js';

const now = new Date('2025-06-01T12:00:00Z');
const at = (seconds: number) => new Date(now.getTime() + seconds * 1000);

describe('formatRelative', () => {
  it.each([
    [0, 'now'],
    [45, 'in 45s'],
    [-45, '45s ago'],
    [5 * 60 + 30, 'in 5m'],
    [2 * 3600 - 60, 'in 1h59m'],
    [2 * 3600 - 59, 'in 1h59m'],
    [-(3600 + 30 * 60 + 12), '1h30m ago'],
    [86_400 * 2 + 3 * 3600 + 59 * 60, 'in 2d3h'],
  ])('%i seconds → %s', (seconds, text) => {
    expect(formatRelative(at(seconds), now)).toBe(text);
  });
});

describe('formatWhen', () => {
  it('shows local wall-clock time and the relative distance', () => {
    const local = new Date(2025, 0, 2, 9, 5, 7);
    expect(formatLocalTime(local)).toBe('2025-01-02 09:05');
    expect(formatLocalTime(local, { seconds: true })).toBe('2025-01-02 09:05:07');
    expect(formatWhen(local.toISOString(), new Date(local.getTime() - 90 * 60_000))).toBe(
      '2025-01-02 09:05 (in 1h30m)',
    );
  });

  it('shows a dash for absent dates and unparseable text as given', () => {
    expect(formatWhen(null, now)).toBe('-');
    expect(formatWhen('soon', now)).toBe('soon');
  });
});

describe('truncate and shortDetails', () => {
  it('flattens whitespace and cuts with an ellipsis', () => {
    expect(truncate('a\n  b', 10)).toBe('a b');
    expect(truncate('abcdefghijk', 5)).toBe('abcd…');
  });

  it('prefers reason and comment, then plain fields, never nested objects', () => {
    expect(shortDetails({ reason: 'INC-1', comment: 'ok', extra: 1 })).toBe('reason: INC-1; comment: ok');
    expect(shortDetails({ version: 'v2', nested: { a: 1 }, n: 3 })).toBe('version=v2; n=3');
    expect(shortDetails({})).toBe('');
  });
});
