import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Harness } from '../support/harness.js';
import { authEvents, identityHarness } from './fixtures.js';
import { startIdp, type TestIdp } from './idp.js';

describe('rate limits and lock-out', () => {
  let idp: TestIdp;
  let h: Harness;
  beforeAll(async () => {
    idp = await startIdp();
    h = await identityHarness(idp, {
      STINT_AUTH_RATE_LIMIT: '5',
      STINT_AUTH_LOCKOUT_THRESHOLD: '3',
      STINT_AUTH_LOCKOUT_DURATION: '10m',
    });
  });
  afterAll(async () => {
    await h?.close();
    await idp?.close();
  });

  it('rate-limits the sign-in routes per address', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await h.app.inject({ method: 'GET', url: '/auth/login', remoteAddress: '10.1.1.1' });
      codes.push(res.statusCode);
      if (res.statusCode === 429) expect(res.json().error.code).toBe('RATE_LIMITED');
    }
    expect(codes.slice(0, 5)).toEqual([302, 302, 302, 302, 302]);
    expect(codes.slice(5)).toEqual([429, 429]);
    // Another address is not held back.
    expect(
      (await h.app.inject({ method: 'GET', url: '/auth/login', remoteAddress: '10.1.1.2' })).statusCode,
    ).toBe(302);
  });

  it('rate-limits an IPv6 client by its /64, not by each of its addresses', async () => {
    const codes: number[] = [];
    for (let i = 1; i <= 6; i++) {
      const res = await h.app.inject({
        method: 'GET',
        url: '/auth/login',
        remoteAddress: `2001:db8:0:9::${i}`,
      });
      codes.push(res.statusCode);
    }
    expect(codes).toEqual([302, 302, 302, 302, 302, 429]);
  });

  it('holds an address back after failed tokens, even with a good token then', async () => {
    const ip = '10.2.2.2';
    const bad = `stint_${'A'.repeat(16)}.${'B'.repeat(43)}`;
    for (let i = 0; i < 3; i++) {
      const res = await h.app.inject({
        method: 'GET',
        url: '/v1/whoami',
        headers: { authorization: `Bearer ${bad}` },
        remoteAddress: ip,
      });
      expect(res.statusCode).toBe(401);
    }
    const good = { authorization: `Bearer ${h.tokens.alice}` };
    const locked = await h.app.inject({ method: 'GET', url: '/v1/whoami', headers: good, remoteAddress: ip });
    expect(locked.statusCode).toBe(429);
    expect(locked.json().error.code).toBe('AUTH_LOCKED');
    expect(
      (await h.app.inject({ method: 'GET', url: '/v1/whoami', headers: good, remoteAddress: '10.2.2.3' }))
        .statusCode,
    ).toBe(200);
    const events = (await authEvents(h)).filter((e) => e.action === 'auth.failed');
    expect(events.filter((e) => e.parsed.source.ip === ip).map((e) => e.parsed.details.reason)).toEqual([
      'unknown',
      'unknown',
      'unknown',
      'locked',
    ]);
  });

  it('audits a held-back address once per pause, not once per refused request (no audit growth)', async () => {
    const ip = '10.2.2.9';
    const bad = `stint_${'E'.repeat(16)}.${'D'.repeat(43)}`;
    const good = { authorization: `Bearer ${h.tokens.alice}` };
    for (let i = 0; i < 3; i++) {
      await h.app.inject({
        method: 'GET',
        url: '/v1/whoami',
        headers: { authorization: `Bearer ${bad}` },
        remoteAddress: ip,
      });
    }
    for (let i = 0; i < 50; i++) {
      const res = await h.app.inject({ method: 'GET', url: '/v1/whoami', headers: good, remoteAddress: ip });
      expect(res.statusCode).toBe(429);
    }
    const reasons = (await authEvents(h))
      .filter((e) => e.action === 'auth.failed' && e.parsed.source.ip === ip)
      .map((e) => e.parsed.details.reason);
    expect(reasons).toEqual(['unknown', 'unknown', 'unknown', 'locked']);
  });

  it('never locks a person out because of their dead credential, whoever presents it and from where', async () => {
    const t = await h.stint.identity.tokens.create(
      'bob',
      'x',
      new Date(),
      new Date(Date.now() + 86_400_000),
      ['requests:read'],
    );
    await h.stint.identity.tokens.revoke(t.id, new Date());
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await h.app.inject({
        method: 'GET',
        url: '/v1/whoami',
        headers: { authorization: `Bearer ${t.token}` },
        remoteAddress: `10.3.3.${i + 1}`,
      });
      codes.push(res.statusCode);
    }
    // The dead credential itself is held back once it reached the threshold, whatever the address ...
    expect(codes).toEqual([401, 401, 401, 429, 429, 429]);
    // ... while its owner works with every other credential, by API token and by signing in afresh.
    const good = await h.app.inject({
      method: 'GET',
      url: '/v1/whoami',
      headers: { authorization: `Bearer ${h.tokens.bob}` },
      remoteAddress: '10.3.3.9',
    });
    expect(good.statusCode, good.body).toBe(200);
    const n = randomBytes(16).toString('hex');
    const signIn = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/token',
      remoteAddress: '10.3.3.10',
      payload: { id_token: await idp.cliIdToken(n, 'bob@example.com'), nonce: n },
    });
    expect(signIn.statusCode, signIn.body).toBe(201);
    // The failures are the credential's and the addresses': none is charged to bob.
    const failed = (await authEvents(h)).filter(
      (e) => e.action === 'auth.failed' && e.parsed.details.id === t.id,
    );
    expect(failed.length).toBe(6);
  });

  it('backs a guessing address off with Retry-After, and a valid request in between resets nothing', async () => {
    const ip = '10.5.5.5';
    const bad = () => `stint_${randomBytes(12).toString('base64url')}.${'B'.repeat(43)}`;
    const call = (token: string) =>
      h.app.inject({
        method: 'GET',
        url: '/v1/whoami',
        headers: { authorization: `Bearer ${token}` },
        remoteAddress: ip,
      });
    expect((await call(bad())).statusCode).toBe(401);
    expect((await call(bad())).statusCode).toBe(401);
    // The guesser's own valid token: accepted, but the two failures still stand.
    expect((await call(h.tokens.mallory as string)).statusCode).toBe(200);
    expect((await call(bad())).statusCode).toBe(401);
    const held = await call(h.tokens.mallory as string);
    expect(held.statusCode).toBe(429);
    expect(held.json().error.code).toBe('AUTH_LOCKED');
    const retryAfter = Number(held.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(600);
  });

  it('counts an IPv6 client by its /64, so stepping through its addresses does not dodge the back-off', async () => {
    const bad = `stint_${'D'.repeat(16)}.${'B'.repeat(43)}`;
    for (let i = 1; i <= 3; i++) {
      const res = await h.app.inject({
        method: 'GET',
        url: '/v1/whoami',
        headers: { authorization: `Bearer ${bad}` },
        remoteAddress: `2001:db8:0:7::${i}`,
      });
      expect(res.statusCode).toBe(401);
    }
    const next = await h.app.inject({
      method: 'GET',
      url: '/v1/whoami',
      headers: { authorization: `Bearer ${h.tokens.alice}` },
      remoteAddress: '2001:db8:0:7:ffff::4',
    });
    expect(next.statusCode).toBe(429);
    const elsewhere = await h.app.inject({
      method: 'GET',
      url: '/v1/whoami',
      headers: { authorization: `Bearer ${h.tokens.alice}` },
      remoteAddress: '2001:db8:0:8::1',
    });
    expect(elsewhere.statusCode).toBe(200);
  });

  it('ignores X-Forwarded-For from a caller that is not a trusted proxy', async () => {
    const ip = '10.6.6.6';
    const bad = `stint_${'C'.repeat(16)}.${'B'.repeat(43)}`;
    for (let i = 0; i < 3; i++) {
      const res = await h.app.inject({
        method: 'GET',
        url: '/v1/whoami',
        headers: { authorization: `Bearer ${bad}`, 'x-forwarded-for': `198.51.100.${i + 1}` },
        remoteAddress: ip,
      });
      expect(res.statusCode).toBe(401);
    }
    const res = await h.app.inject({
      method: 'GET',
      url: '/v1/whoami',
      headers: { authorization: `Bearer ${h.tokens.alice}`, 'x-forwarded-for': '198.51.100.99' },
      remoteAddress: ip,
    });
    expect(res.statusCode).toBe(429);
  });

  it('counts failed ID-token exchanges toward the address back-off', async () => {
    const ip = '10.4.4.4';
    for (let i = 0; i < 3; i++) {
      const res = await h.app.inject({
        method: 'POST',
        url: '/v1/auth/token',
        remoteAddress: ip,
        payload: { id_token: 'not.a.token', nonce: randomBytes(16).toString('hex') },
      });
      expect(res.json().error.code).toBe('ID_TOKEN_INVALID');
    }
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/token',
      remoteAddress: ip,
      payload: { id_token: 'not.a.token', nonce: randomBytes(16).toString('hex') },
    });
    expect(res.statusCode).toBe(429);
    expect(res.json().error.code).toBe('AUTH_LOCKED');
  });
});

describe('lock-out behind a trusted reverse proxy (STINT_TRUSTED_PROXIES)', () => {
  let idp: TestIdp;
  let h: Harness;
  const proxy = '10.0.0.1';
  beforeAll(async () => {
    idp = await startIdp();
    h = await identityHarness(idp, {
      STINT_AUTH_LOCKOUT_THRESHOLD: '3',
      STINT_AUTH_LOCKOUT_DURATION: '10m',
      STINT_TRUSTED_PROXIES: `${proxy}, 10.0.1.0/24`,
    });
  });
  afterAll(async () => {
    await h?.close();
    await idp?.close();
  });

  const via = (client: string, token: string) =>
    h.app.inject({
      method: 'GET',
      url: '/v1/whoami',
      headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': client },
      remoteAddress: proxy,
    });

  it('holds back the guessing client only, not everyone behind the proxy', async () => {
    const attacker = '203.0.113.5';
    for (let i = 0; i < 3; i++) {
      const bad = `stint_${randomBytes(12).toString('base64url')}.${'B'.repeat(43)}`;
      expect((await via(attacker, bad)).statusCode).toBe(401);
    }
    expect((await via(attacker, h.tokens.alice as string)).statusCode).toBe(429);
    const victim = await via('203.0.113.6', h.tokens.bob as string);
    expect(victim.statusCode, victim.body).toBe(200);
    const failed = (await authEvents(h)).filter((e) => e.action === 'auth.failed');
    expect(new Set(failed.map((e) => e.parsed.source.ip))).toEqual(new Set([attacker]));
  });
});
