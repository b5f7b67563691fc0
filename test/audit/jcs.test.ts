import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalize, isCanonical } from '../../src/audit/log/jcs.js';

/** [1, <hole>, 3]: built this way because a literal hole reads like a typo. */
function holes(): unknown[] {
  const a: unknown[] = [1];
  a[2] = 3;
  return a;
}

const cp = (...codes: number[]): string => String.fromCodePoint(...codes);

/** The IEEE-754 double with these big-endian bits. */
function double(bits: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${bits}`));
  return view.getFloat64(0);
}

describe('RFC 8785 canonical JSON', () => {
  it('§3.2.2 example: literals, numbers and string escapes (also cyberphone testdata values.json)', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",' +
        ' "literals": [null, true, false]}',
    );
    expect(canonicalize(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        `"string":"${cp(0x20ac)}$\\u000f\\nA'B\\"\\\\\\\\\\"/"}`,
    );
  });

  it('§3.2.3 example: keys sorted by UTF-16 code units (an astral key sorts by its surrogates)', () => {
    const input = {
      [cp(0x20ac)]: 'Euro Sign',
      '\r': 'Carriage Return',
      [cp(0xfb33)]: 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      [cp(0x1f600)]: 'Emoji: Grinning Face',
      [cp(0x80)]: 'Control',
      [cp(0xf6)]: 'Latin Small Letter O With Diaeresis',
    };
    expect(canonicalize(input)).toBe(
      `{"\\r":"Carriage Return","1":"One","${cp(0x80)}":"Control",` +
        `"${cp(0xf6)}":"Latin Small Letter O With Diaeresis","${cp(0x20ac)}":"Euro Sign",` +
        `"${cp(0x1f600)}":"Emoji: Grinning Face","${cp(0xfb33)}":"Hebrew Letter Dalet With Dagesh"}`,
    );
  });

  it('cyberphone/json-canonicalization testdata weird.json', () => {
    const input = JSON.parse(
      '{"\\u20ac": "Euro Sign", "1": "One", "\\u0080": "Control\\u007f", "\\ud83d\\ude02": "Smiley",' +
        ' "\\u00f6": "Latin Small Letter O With Diaeresis", "\\ufb33": "Hebrew Letter Dalet With Dagesh",' +
        ' "</script>": "Browser Challenge"}',
    );
    expect(canonicalize(input)).toBe(
      `{"1":"One","</script>":"Browser Challenge","${cp(0x80)}":"Control${cp(0x7f)}",` +
        `"${cp(0xf6)}":"Latin Small Letter O With Diaeresis","${cp(0x20ac)}":"Euro Sign",` +
        `"${cp(0x1f602)}":"Smiley","${cp(0xfb33)}":"Hebrew Letter Dalet With Dagesh"}`,
    );
  });

  // Appendix B: IEEE-754 bit patterns and their canonical text (ECMAScript Number.prototype.toString).
  const numbers: [string, string][] = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];
  it.each(numbers)('Appendix B: 0x%s → %s', (bits, expected) => {
    expect(canonicalize(double(bits))).toBe(expected);
    expect(canonicalize({ n: double(bits) })).toBe(`{"n":${expected}}`);
  });

  it.each(['7fffffffffffffff', '7ff0000000000000', 'fff0000000000000'])(
    'Appendix B: 0x%s is an error',
    (bits) => {
      expect(() => canonicalize({ n: double(bits) })).toThrow(
        expect.objectContaining({ code: 'JCS_UNSUPPORTED_VALUE' }),
      );
    },
  );

  it.each([
    ['undefined', undefined],
    ['undefined member', { a: undefined }],
    ['undefined element', [1, undefined]],
    ['sparse array', holes()],
    ['function', { f: () => 1 }],
    ['symbol', Symbol('s')],
    ['bigint', 10n],
    ['Date', new Date(0)],
    ['Map', new Map()],
    ['class instance', new (class Event {})()],
    ['symbol key', { [Symbol('k')]: 1 }],
    ['lone surrogate value', { s: '\ud800' }],
    ['lone surrogate key', { '\udc00': 1 }],
  ])('rejects %s with a typed error', (_, value) => {
    expect(() => canonicalize(value)).toThrow(expect.objectContaining({ code: 'JCS_UNSUPPORTED_VALUE' }));
  });

  it('rejects cycles but accepts the same object twice side by side', () => {
    const shared = { x: 1 };
    expect(canonicalize({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(() => canonicalize(loop)).toThrow(expect.objectContaining({ code: 'JCS_UNSUPPORTED_VALUE' }));
  });

  it('names the path of the offending value', () => {
    expect(() => canonicalize({ actor: { tags: [1, Number.NaN] } })).toThrow('$.actor.tags[1]');
  });

  it('is idempotent and order-independent, and its output is what isCanonical accepts', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalize(value);
        expect(canonicalize(JSON.parse(text))).toBe(text);
        expect(isCanonical(text)).toBe(true);
        // Same data written with the keys in reverse order canonicalizes identically.
        const reversed = JSON.parse(text, (_, v) =>
          v && typeof v === 'object' && !Array.isArray(v)
            ? Object.fromEntries(Object.entries(v).reverse())
            : v,
        );
        expect(canonicalize(reversed)).toBe(text);
      }),
    );
  });

  it('isCanonical refuses whitespace, other spellings, duplicate keys and out-of-range numbers', () => {
    for (const text of [
      '{"a": 1}',
      '{"b":1,"a":2}',
      '{"a":1.0}',
      '{"a":1,"a":1}',
      '[1e400]',
      '"\\u0041"',
      'nope',
    ]) {
      expect(isCanonical(text), text).toBe(false);
    }
    expect(isCanonical('{"a":[1,"\\u001f",null]}')).toBe(true);
  });
});
