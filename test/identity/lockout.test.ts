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

  it('locks an address out after consecutive failed tokens, even with a good token then', async () => {
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

  it('locks a user out after consecutive failures with their revoked credentials', async () => {
    const t = await h.stint.tokens.create('bob', 'x', new Date(), new Date(Date.now() + 86_400_000), [
      'requests:read',
    ]);
    await h.stint.tokens.revoke(t.id, new Date());
    for (let i = 0; i < 3; i++) {
      const res = await h.app.inject({
        method: 'GET',
        url: '/v1/whoami',
        headers: { authorization: `Bearer ${t.token}` },
        remoteAddress: `10.3.3.${i + 1}`,
      });
      expect(res.statusCode).toBe(401);
    }
    const good = await h.app.inject({
      method: 'GET',
      url: '/v1/whoami',
      headers: { authorization: `Bearer ${h.tokens.bob}` },
      remoteAddress: '10.3.3.9',
    });
    expect(good.statusCode).toBe(429);
    expect(good.json().error.code).toBe('AUTH_LOCKED');
  });

  it('counts failed ID-token exchanges toward the lock-out', async () => {
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
