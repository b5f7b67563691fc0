import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/domain/duration.js';
import { StintError } from '../../src/domain/errors.js';

function refusal(text: string): StintError {
  try {
    parseDuration(text);
  } catch (e) {
    if (e instanceof StintError) return e;
    throw e;
  }
  throw new Error(`parseDuration(${JSON.stringify(text)}) was accepted`);
}

const UNIT = { d: 86400, h: 3600, m: 60, s: 1 } as const;

describe('parseDuration', () => {
  it.each([
    ['90m', 5400],
    ['2h', 7200],
    ['1h30m', 5400],
    ['45s', 45],
    ['1d', 86400],
    ['1d2h3m4s', 93784],
    ['0h30m', 1800],
    ['0090m', 5400],
  ])('parses %j as %i seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each([' 2h', '2h ', '\t90m\n', '  1h30m  '])('accepts surrounding whitespace: %j', (text) => {
    expect(parseDuration(text)).toBe(parseDuration(text.trim()));
  });

  it.each([
    ['zero hours', '0h'],
    ['zero minutes', '0m'],
    ['zero in every part', '0h0m0s'],
    ['negative', '-1h'],
    ['explicit plus', '+1h'],
    ['no unit', '2'],
    ['no number', 'h'],
    ['empty', ''],
    ['only whitespace', '   '],
    ['a fraction', '1.5h'],
    ['inner space', '2 h'],
    ['space between parts', '1h 30m'],
    ['upper-case unit', '2H'],
    ['unknown unit', '1w'],
    ['exponent', '1e3s'],
    ['hex', '0x10m'],
    ['trailing junk', '2hx'],
    ['unit first', 'h2'],
    ['non-ASCII digits', '\u0662h'],
    ['word', 'two hours'],
  ])('refuses %s (%j) with INVALID_DURATION', (_why, text) => {
    const error = refusal(text);
    expect(error.code).toBe('INVALID_DURATION');
    expect(error.status).toBe(400);
  });

  it('accepts the largest safe integer of seconds and refuses one more', () => {
    expect(parseDuration(`${Number.MAX_SAFE_INTEGER}s`)).toBe(Number.MAX_SAFE_INTEGER);
    expect(refusal(`${Number.MAX_SAFE_INTEGER + 1}s`).code).toBe('INVALID_DURATION');
  });

  it.each(['99999999999999999999h', '104249991375d', `${'9'.repeat(400)}s`, '9007199254740991s1s'])(
    'refuses a total beyond a safe integer: %s',
    (text) => {
      expect(refusal(text).code).toBe('INVALID_DURATION');
    },
  );

  it('sums the parts of any well-ordered duration', () => {
    fc.assert(
      fc.property(
        fc.subarray(['d', 'h', 'm', 's'] as (keyof typeof UNIT)[], { minLength: 1 }),
        fc.array(fc.nat({ max: 10_000 }), { minLength: 4, maxLength: 4 }),
        (units, counts) => {
          const parts = units.map((unit, i) => [counts[i] as number, unit] as const);
          const text = parts.map(([n, unit]) => `${n}${unit}`).join('');
          const total = parts.reduce((sum, [n, unit]) => sum + n * UNIT[unit], 0);
          if (total === 0) expect(refusal(text).code).toBe('INVALID_DURATION');
          else expect(parseDuration(text)).toBe(total);
        },
      ),
    );
  });

  it('refuses any duration with whitespace inside it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.constantFrom('h', 'm'),
        fc.constantFrom(' ', '\t', '\n'),
        fc.boolean(),
        (n, unit, space, beforeUnit) => {
          const text = beforeUnit ? `${n}${space}${unit}` : `${n}${unit}${space}${n}s`;
          expect(refusal(text).code).toBe('INVALID_DURATION');
        },
      ),
    );
  });
});

describe('formatDuration', () => {
  it.each([
    [5400, '1h30m'],
    [7200, '2h'],
    [45, '45s'],
    [86400, '1d'],
    [93784, '1d2h3m4s'],
    [86401, '1d1s'],
  ])('formats %i as %j', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it('shows zero and negative as 0s', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(-5)).toBe('0s');
  });

  it('drops fractions of a second', () => {
    expect(formatDuration(90.9)).toBe('1m30s');
  });

  it('round-trips every positive safe integer through parseDuration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (seconds) => {
        expect(parseDuration(formatDuration(seconds))).toBe(seconds);
      }),
      { numRuns: 1000 },
    );
  });

  it('round-trips small durations, where every unit boundary is likely', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 * 86400 }), (seconds) => {
        expect(parseDuration(formatDuration(seconds))).toBe(seconds);
      }),
      { numRuns: 1000 },
    );
  });

  it('formats canonically: units in order, none zero, each below the next', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (seconds) => {
        const text = formatDuration(seconds);
        const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
        expect(m).not.toBeNull();
        const [, d, h, min, s] = m ?? [];
        for (const part of [d, h, min, s]) if (part !== undefined) expect(Number(part)).toBeGreaterThan(0);
        if (h !== undefined) expect(Number(h)).toBeLessThan(24);
        if (min !== undefined) expect(Number(min)).toBeLessThan(60);
        if (s !== undefined) expect(Number(s)).toBeLessThan(60);
      }),
    );
  });

  it('is the canonical form of whatever parseDuration accepts', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 1000 }), (h, m) => {
        fc.pre(h + m > 0);
        const seconds = parseDuration(`${h}h${m}m`);
        expect(formatDuration(seconds)).toBe(formatDuration(h * 3600 + m * 60));
        expect(parseDuration(formatDuration(seconds))).toBe(seconds);
      }),
    );
  });
});

describe('parseDuration unit order', () => {
  it('refuses repeated or out-of-order units', () => {
    for (const text of ['1h1h', '30m1h', '1s1m', '2d3d']) {
      expect(() => parseDuration(text)).toThrow(expect.objectContaining({ code: 'INVALID_DURATION' }));
    }
    expect(parseDuration('1d2h3m4s')).toBe(86400 + 7200 + 180 + 4);
  });
});
