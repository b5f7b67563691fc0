import { describe, expect, it } from 'vitest';
import { anyScimAuthenticator, scopedScimToken, staticScimToken } from '../../src/directory/scim-auth.js';

describe('SCIM authenticators', () => {
  it('compares the shared secret exactly and refuses a short one at boot', async () => {
    const auth = staticScimToken('a'.repeat(40));
    expect(await auth('a'.repeat(40))).toBe(true);
    expect(await auth('a'.repeat(39))).toBe(false);
    expect(await auth('')).toBe(false);
    expect(() => staticScimToken('short')).toThrow(/at least 32 characters/);
  });

  it('accepts only API tokens that carry the scim scope', async () => {
    const tokens = {
      check: async (token: string) =>
        token === 'scim'
          ? { ok: true as const, scopes: ['scim'] }
          : token === 'full'
            ? { ok: true as const, scopes: null }
            : token === 'read'
              ? { ok: true as const, scopes: ['requests:read'] }
              : { ok: false as const },
    };
    const auth = scopedScimToken(tokens, () => new Date());
    expect(await auth('scim')).toBe(true);
    expect(await auth('full')).toBe(false);
    expect(await auth('read')).toBe(false);
    expect(await auth('unknown')).toBe(false);
    const both = anyScimAuthenticator(staticScimToken('s'.repeat(32)), auth);
    expect(await both('s'.repeat(32))).toBe(true);
    expect(await both('scim')).toBe(true);
    expect(await both('read')).toBe(false);
  });
});
