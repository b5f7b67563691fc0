import { afterEach, describe, expect, it, vi } from 'vitest';
import { newIdempotencyKey } from '../../src/cli/idempotency-key.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newIdempotencyKey', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('is a version 4 UUID in the form crypto.randomUUID() gives, different every time', () => {
    const keys = Array.from({ length: 2000 }, () => newIdempotencyKey());
    for (const key of keys) expect(key).toMatch(V4);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('spreads its random bits: each hex place around the version (12) and variant (16) digits takes all 16 values', () => {
    const keys = Array.from({ length: 2000 }, () => newIdempotencyKey().replaceAll('-', ''));
    for (const place of [0, 7, 11, 13, 17, 31]) {
      expect(new Set(keys.map((k) => k[place])).size, `place ${place}`).toBe(16);
    }
  });

  it('takes its bytes from node:crypto when /dev/urandom cannot be opened', () => {
    const real = process.getBuiltinModule.bind(process);
    const getRandomValues = vi.fn((b: Uint8Array) => b.fill(0xff));
    vi.spyOn(process, 'getBuiltinModule').mockImplementation(((id: string) => {
      if (id === 'node:fs')
        return {
          openSync: () => {
            throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
          },
        };
      if (id === 'node:crypto') return { getRandomValues };
      return real(id);
    }) as typeof process.getBuiltinModule);
    expect(newIdempotencyKey()).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff');
    expect(getRandomValues).toHaveBeenCalledOnce();
  });
});
