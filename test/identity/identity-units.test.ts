import { describe, expect, it } from 'vitest';
import { loadIdentityConfig } from '../../src/identity/identity-config.js';
import { createLockout } from '../../src/identity/lockout.js';
import { mfaAtFromClaims } from '../../src/identity/mfa-claims.js';

describe('mfaAtFromClaims', () => {
  const authTime = 1_800_000_000;
  it('takes auth_time when amr shows a second factor', () => {
    for (const amr of [['pwd', 'mfa'], ['otp'], ['hwk'], ['swk'], ['pop']]) {
      expect(mfaAtFromClaims({ amr, auth_time: authTime, iat: authTime + 5 }, [])).toEqual(
        new Date(authTime * 1000),
      );
    }
  });
  it('takes a trusted acr, and falls back to iat without auth_time', () => {
    expect(mfaAtFromClaims({ acr: 'urn:mfa', iat: authTime }, ['urn:mfa'])).toEqual(
      new Date(authTime * 1000),
    );
  });
  it('is null for a password alone, an untrusted acr, or malformed claims', () => {
    expect(mfaAtFromClaims({ amr: ['pwd'], auth_time: authTime }, [])).toBeNull();
    expect(mfaAtFromClaims({ acr: 'urn:mfa', auth_time: authTime }, [])).toBeNull();
    expect(mfaAtFromClaims({ amr: 'mfa', auth_time: authTime }, [])).toBeNull();
  });
});

describe('lockout', () => {
  it('locks after the threshold of consecutive failures, for the period, and a success clears the count', () => {
    const l = createLockout({ threshold: 3, lockMs: 60_000 });
    const t0 = new Date(0);
    l.failure(['ip:a'], t0);
    l.failure(['ip:a'], t0);
    l.success(['ip:a']);
    l.failure(['ip:a'], t0);
    l.failure(['ip:a'], t0);
    expect(l.lockedUntil(['ip:a'], t0)).toBeNull();
    l.failure(['ip:a'], t0);
    expect(l.lockedUntil(['ip:a'], t0)).toEqual(new Date(60_000));
    expect(l.lockedUntil(['ip:b'], t0)).toBeNull();
    expect(l.lockedUntil(['ip:a'], new Date(60_000))).toBeNull();
  });
});

describe('identity configuration', () => {
  const base = {
    STINT_OIDC_ISSUER: 'https://idp.example.com',
    STINT_OIDC_CLIENT_ID: 'stint',
    STINT_OIDC_REDIRECT_URI: 'https://stint.example.com/auth/callback',
  };
  it('is off without an issuer, with defaults', () => {
    const c = loadIdentityConfig({});
    expect(c.oidc).toBeNull();
    expect(c).toMatchObject({ cookieSecure: true, lockoutThreshold: 10, sessionTtlMs: 8 * 3_600_000 });
  });
  it('reads the OIDC settings with their defaults', () => {
    const c = loadIdentityConfig(base);
    expect(c.oidc).toMatchObject({
      clientId: 'stint',
      userClaim: 'email',
      mfaMaxAgeMs: 15 * 60_000,
      clientSecret: null,
    });
  });
  it('fails at boot on half a configuration, plain http, or an insecure cookie off loopback', () => {
    expect(() => loadIdentityConfig({ STINT_OIDC_CLIENT_ID: 'x' })).toThrow(/without STINT_OIDC_ISSUER/);
    expect(() => loadIdentityConfig({ ...base, STINT_OIDC_CLIENT_ID: '' })).toThrow(/CLIENT_ID is required/);
    expect(() => loadIdentityConfig({ ...base, STINT_OIDC_ISSUER: 'http://idp.example.com' })).toThrow(
      /https/,
    );
    expect(() => loadIdentityConfig({ ...base, STINT_COOKIE_INSECURE: '1' })).toThrow(/127.0.0.1/);
    expect(() => loadIdentityConfig({ ...base, STINT_AUTH_LOCKOUT_THRESHOLD: '0' })).toThrow(/positive/);
    expect(() =>
      loadIdentityConfig({ ...base, STINT_OIDC_CLIENT_SECRET: 'a', STINT_OIDC_CLIENT_SECRET_FILE: '/x' }),
    ).toThrow(/not both/);
  });
});
