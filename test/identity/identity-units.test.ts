import { describe, expect, it } from 'vitest';
import { IdentityConfigError, loadIdentityConfig } from '../../src/identity/identity-config.js';
import { addressKey, backoffMs, createLockout, credentialKey } from '../../src/identity/lockout.js';
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
  const opts = { threshold: 3, maxDelayMs: 640_000 };
  it('backs a key off from the threshold on, doubling the pause up to the longest', () => {
    expect([1, 2, 3, 4, 5, 9, 10, 40].map((n) => backoffMs(n, opts))).toEqual([
      0, 0, 10_000, 20_000, 40_000, 640_000, 640_000, 640_000,
    ]);
  });
  it('holds a key back after the threshold, only that key, and only for the pause', () => {
    const l = createLockout(opts);
    const at = (s: number) => new Date(s * 1000);
    l.failure(['ip:a', 'cred:stint:x'], at(0));
    l.failure(['ip:a'], at(1));
    expect(l.heldUntil(['ip:a'], at(1))).toBeNull();
    l.failure(['ip:a'], at(2));
    expect(l.heldUntil(['ip:a'], at(2))).toEqual(at(12));
    expect(l.heldUntil(['ip:b', 'cred:stint:x'], at(2))).toBeNull();
    // A pause ends by itself; the next failure doubles it.
    expect(l.heldUntil(['ip:a'], at(12))).toBeNull();
    l.failure(['ip:a'], at(12));
    expect(l.heldUntil(['ip:a'], at(12))).toEqual(at(32));
  });
  it('forgets a key after a quiet spell as long as the longest pause', () => {
    const l = createLockout(opts);
    for (let i = 0; i < 3; i++) l.failure(['ip:a'], new Date(0));
    l.failure(['ip:a'], new Date(641_000 + 1));
    expect(l.heldUntil(['ip:a'], new Date(641_001))).toBeNull();
  });
  it('keys IPv4 clients by address and IPv6 clients by their /64', () => {
    expect(addressKey('203.0.113.5')).toBe('ip:203.0.113.5');
    expect(addressKey('::ffff:203.0.113.5')).toBe('ip:203.0.113.5');
    expect(addressKey(null)).toBe('ip:?');
    const prefix = 'ip6:2001:db8:0:1::/64';
    expect(addressKey('2001:db8:0:1::1')).toBe(prefix);
    expect(addressKey('2001:0DB8:0000:0001:ffff:1:2:3')).toBe(prefix);
    expect(addressKey('2001:db8::1:0:0:0:9')).toBe(prefix);
    expect(addressKey('2001:db8:0:2::1')).not.toBe(prefix);
    expect(addressKey('::1')).toBe('ip6:0:0:0:0::/64');
  });
  it('keys presented tokens by kind and public id, and nothing else', () => {
    expect(credentialKey(`stint_${'a'.repeat(16)}.${'b'.repeat(43)}`)).toBe(`cred:stint:${'a'.repeat(16)}`);
    expect(credentialKey(`stints_${'a'.repeat(16)}.x`)).toBe(`cred:stints:${'a'.repeat(16)}`);
    expect(credentialKey('garbage')).toBeNull();
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
    expect(c).toMatchObject({
      cookieSecure: true,
      lockout: { threshold: 10, maxDelayMs: 15 * 60_000 },
      trustedProxies: [],
      sessionTtlMs: 8 * 3_600_000,
    });
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

describe('identity configuration: issuer transport and trusted proxies', () => {
  const local = {
    STINT_OIDC_ISSUER: 'http://127.0.0.1:9999',
    STINT_OIDC_CLIENT_ID: 'stint',
    STINT_OIDC_REDIRECT_URI: 'https://stint.example.com/auth/callback',
  };
  const codeOf = (env: Record<string, string>) => {
    try {
      loadIdentityConfig(env);
      return null;
    } catch (e) {
      expect(e).toBeInstanceOf(IdentityConfigError);
      return (e as IdentityConfigError).code;
    }
  };
  it('refuses a plain-http issuer unless the development flag is set, and then only on this machine', () => {
    expect(codeOf(local)).toBe('OIDC_INSECURE_ISSUER');
    expect(codeOf({ ...local, STINT_OIDC_ALLOW_INSECURE_ISSUER: '1' })).toBeNull();
    expect(
      codeOf({
        ...local,
        STINT_OIDC_ALLOW_INSECURE_ISSUER: '1',
        STINT_OIDC_ISSUER: 'http://idp.example.com',
      }),
    ).toBe('OIDC_INSECURE_ISSUER');
    expect(codeOf({ ...local, STINT_OIDC_ISSUER: 'ftp://idp.example.com' })).toBe('OIDC_INSECURE_ISSUER');
  });
  it('reads trusted proxies as addresses and CIDR ranges, and refuses anything else at boot', () => {
    expect(loadIdentityConfig({ STINT_TRUSTED_PROXIES: '10.0.0.1, 10.1.0.0/16 ::1' }).trustedProxies).toEqual(
      ['10.0.0.1', '10.1.0.0/16', '::1'],
    );
    for (const bad of ['proxy.internal', '10.0.0.0/33', '10.0.0.1/8/1', '10.0.0', 'fd00::/129']) {
      expect(codeOf({ STINT_TRUSTED_PROXIES: bad })).toBe('IDENTITY_CONFIG_INVALID');
    }
  });
});
