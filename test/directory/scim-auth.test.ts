import { describe, expect, it } from 'vitest';
import { staticScimToken } from '../../src/directory/scim-auth.js';

describe('SCIM authenticators', () => {
  it('compares the shared secret exactly and refuses a short one at boot', async () => {
    const auth = staticScimToken('a'.repeat(40));
    expect(await auth('a'.repeat(40))).toBe(true);
    expect(await auth('a'.repeat(39))).toBe(false);
    expect(await auth('')).toBe(false);
    expect(() => staticScimToken('short')).toThrow(/at least 32 characters/);
  });
});
