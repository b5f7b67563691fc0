import { randomBytes } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Harness } from '../support/harness.js';
import { authEvents, countRows, freshIp, identityHarness } from './fixtures.js';
import { startIdp, type TestIdp } from './idp.js';

const nonce = () => randomBytes(16).toString('base64url');
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** `stint login`'s server half: an ID token the CLI got from the provider, exchanged for a Stint session. */
describe.each(['sqlite', 'postgresql'] as const)(
  'POST /v1/auth/token against a real OpenID provider (%s)',
  (kind) => {
    let idp: TestIdp;
    let h: Harness;
    beforeAll(async () => {
      idp = await startIdp();
      h = await identityHarness(idp, {}, kind);
    });
    afterAll(async () => {
      await h?.close();
      await idp?.close();
    });

    const exchange = (body: unknown, remoteAddress = freshIp()) =>
      h.app.inject({ method: 'POST', url: '/v1/auth/token', payload: body as object, remoteAddress });

    /** Bad input: a 401 with this code, no session created, and an auth.failed event without the token. */
    async function refused(body: { id_token: string; nonce: string }, code: string) {
      const before = await countRows(h, 'sessions');
      const res = await exchange(body);
      expect(res.statusCode, res.body).toBe(401);
      expect(res.json().error.code).toBe(code);
      expect(await countRows(h, 'sessions')).toBe(before);
      const last = (await authEvents(h)).at(-1);
      expect(last?.action).toBe('auth.failed');
      expect(last?.parsed.details).toMatchObject({ method: 'cli', reason: code });
      expect(last?.body).not.toContain(body.id_token.split('.')[1] ?? body.id_token);
    }

    it('exchanges a real ID token for a session token that authenticates as the directory user', async () => {
      const n = nonce();
      idp.nextLogin = { email: 'bob@example.com', amr: ['pwd', 'hwk'] };
      const idToken = await idp.cliIdToken(n);
      const res = await exchange({ id_token: idToken, nonce: n });
      expect(res.statusCode, res.body).toBe(201);
      const { token, userId, expiresAt, mfaAt } = res.json();
      expect(userId).toBe('bob');
      expect(token).toMatch(/^stints_/);
      const hours = (Date.parse(expiresAt) - Date.now()) / 3_600_000;
      expect(hours).toBeGreaterThan(11.9);
      expect(hours).toBeLessThanOrEqual(12);
      expect(mfaAt).toEqual(expect.any(String));

      const who = await h.app.inject({
        method: 'GET',
        url: '/v1/whoami',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(who.statusCode).toBe(200);
      const session = await h.app.inject({
        method: 'GET',
        url: '/auth/session',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(session.json()).toMatchObject({ userId: 'bob', method: 'session', csrfToken: null });
      // Bearer sessions need no CSRF header.
      const made = await h.app.inject({
        method: 'POST',
        url: '/v1/requests',
        headers: { authorization: `Bearer ${token}` },
        payload: { resource: 'prod-db', role: 'admin', reason: 'INC-9' },
      });
      expect(made.statusCode, made.body).toBe(201);

      // Only a hash is stored.
      const rows = await h.testStore.store.db.selectFrom('sessions').selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(token.split('.')[1]);

      const ok = (await authEvents(h)).find(
        (e) => e.action === 'auth.succeeded' && e.parsed.details.method === 'cli',
      );
      expect(ok).toMatchObject({ actor: 'bob' });
      expect(ok?.parsed.details.mfa).toBe(true);
      expect(ok?.body).not.toContain(token.split('.')[1]);
      expect(ok?.body).not.toContain(idToken.split('.')[2]);

      // Replayed: the same ID token and nonce a second time.
      await refused({ id_token: idToken, nonce: n }, 'ID_TOKEN_REPLAYED');
    });

    it('refuses a nonce that is not the one in the token', async () => {
      const idToken = await idp.cliIdToken(nonce(), 'alice@example.com');
      await refused({ id_token: idToken, nonce: nonce() }, 'NONCE_MISMATCH');
    });

    it('refuses an expired ID token', async () => {
      const n = nonce();
      const past = Math.floor(Date.now() / 1000) - 3600;
      await refused(
        { id_token: await idp.forge({ nonce: n, iat: past - 600, exp: past }), nonce: n },
        'ID_TOKEN_EXPIRED',
      );
    });

    it('refuses an ID token from another issuer', async () => {
      const n = nonce();
      await refused(
        { id_token: await idp.forge({ nonce: n, iss: 'https://evil.example.com' }), nonce: n },
        'ID_TOKEN_INVALID',
      );
    });

    it('refuses an ID token for another audience', async () => {
      const n = nonce();
      await refused(
        { id_token: await idp.forge({ nonce: n, aud: 'some-other-app' }), nonce: n },
        'ID_TOKEN_INVALID',
      );
    });

    it('refuses a bad signature (another key under the provider’s key id)', async () => {
      const n = nonce();
      const { privateKey } = await generateKeyPair('RS256');
      const now = Math.floor(Date.now() / 1000);
      const forged = await new SignJWT({ nonce: n, email: 'alice@example.com' })
        .setProtectedHeader({ alg: 'RS256', kid: idp.signingKey.kid })
        .setIssuer(idp.issuer)
        .setAudience(idp.cliClientId)
        .setSubject('alice@example.com')
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(privateKey);
      await refused({ id_token: forged, nonce: n }, 'ID_TOKEN_INVALID');
    });

    it('refuses an unsigned token (alg: none)', async () => {
      const n = nonce();
      const now = Math.floor(Date.now() / 1000);
      const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({
        iss: idp.issuer,
        aud: idp.cliClientId,
        sub: 'alice@example.com',
        email: 'alice@example.com',
        nonce: n,
        iat: now,
        exp: now + 600,
      })}.`;
      await refused({ id_token: unsigned, nonce: n }, 'ID_TOKEN_INVALID');
    });

    it('refuses a tampered ID token (payload changed after signing)', async () => {
      const n = nonce();
      const idToken = await idp.cliIdToken(n, 'alice@example.com');
      const [header, payload, signature] = idToken.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      const tampered = `${header}.${b64({ ...claims, email: 'sam@example.com', sub: 'sam@example.com' })}.${signature}`;
      await refused({ id_token: tampered, nonce: n }, 'ID_TOKEN_INVALID');
    });

    it('refuses a valid token of someone not in the directory', async () => {
      const n = nonce();
      await refused(
        { id_token: await idp.cliIdToken(n, 'stranger@example.com'), nonce: n },
        'UNKNOWN_IDENTITY',
      );
    });

    it('answers malformed bodies with VALIDATION_FAILED', async () => {
      for (const body of [
        { nonce: nonce() },
        { id_token: 'x', nonce: 'short' },
        { id_token: 'x', extra: 1 },
      ]) {
        const res = await exchange(body);
        expect(res.statusCode).toBe(400);
        expect(res.json().error.code).toBe('VALIDATION_FAILED');
      }
    });

    it('refuses a token that carries a nonce when none is sent (only device-flow tokens come without)', async () => {
      const idToken = await idp.cliIdToken(nonce(), 'alice@example.com');
      const before = await countRows(h, 'sessions');
      const res = await exchange({ id_token: idToken });
      expect(res.json().error.code).toBe('NONCE_MISMATCH');
      expect(await countRows(h, 'sessions')).toBe(before);
    });

    it('exchanges a token without a nonce (device flow) once only', async () => {
      const idToken = await idp.forge({ email: 'carol@example.com', sub: 'carol@example.com' });
      const first = await exchange({ id_token: idToken });
      expect(first.statusCode, first.body).toBe(201);
      expect(first.json().userId).toBe('carol');
      const again = await exchange({ id_token: idToken });
      expect(again.json().error.code).toBe('ID_TOKEN_REPLAYED');
    });

    it('exchanges a real device-flow ID token once: no re-encoding or re-signing of it buys another session', async () => {
      const idToken = await idp.deviceIdToken('dave@example.com');
      const [header, payload, signature] = idToken.split('.') as [string, string, string];
      expect(JSON.parse(Buffer.from(payload, 'base64url').toString())).not.toHaveProperty('jti');
      expect(JSON.parse(Buffer.from(payload, 'base64url').toString())).not.toHaveProperty('nonce');
      // The last base64url character of a 256-byte signature carries 2 spare bits (342 × 6 = 2052 bits):
      // each spare-bit pattern decodes to the same bytes, so jose accepts them all; so does `=` padding.
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const last = alphabet.indexOf(signature.at(-1) as string);
      const variants: string[] = [];
      for (let spare = 0; spare < 64; spare++) {
        const c = alphabet[(last & ~0b1111) | (spare & 0b1111)] as string;
        const variant = `${header}.${payload}.${signature.slice(0, -1)}${c}`;
        if (variant !== idToken && !variants.includes(variant)) variants.push(variant);
      }
      variants.push(`${idToken}==`, `${header}.${payload}=.${signature}`);
      const before = await countRows(h, 'sessions');
      const first = await exchange({ id_token: idToken });
      expect(first.statusCode, first.body).toBe(201);
      for (const variant of variants) {
        const res = await exchange({ id_token: variant });
        expect(res.statusCode, variant.slice(-4)).toBe(401);
        expect(['ID_TOKEN_INVALID', 'ID_TOKEN_REPLAYED']).toContain(res.json().error.code);
      }
      expect(await countRows(h, 'sessions')).toBe(before + 1);
    });

    it('keys device-flow replay on what the token says, not on its bytes', async () => {
      const now = Math.floor(Date.now() / 1000);
      const claims = { email: 'erin@example.com', sub: 'erin@example.com', iat: now, auth_time: now - 5 };
      const first = await exchange({ id_token: await idp.forge(claims) });
      expect(first.statusCode, first.body).toBe(201);
      // The same statement signed again (another header, so another signature): still the same sign-in.
      const resigned = await idp.forge(claims, { typ: 'JWT' });
      const again = await exchange({ id_token: resigned });
      expect(again.json().error.code).toBe('ID_TOKEN_REPLAYED');
    });

    it('refuses an ID token issued in the future', async () => {
      const n = nonce();
      const later = Math.floor(Date.now() / 1000) + 3600;
      await refused(
        { id_token: await idp.forge({ nonce: n, iat: later, exp: later + 600 }), nonce: n },
        'ID_TOKEN_INVALID',
      );
    });
  },
);
