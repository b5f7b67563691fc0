import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listAudit } from '../../src/audit/audit-store.js';
import { wrongTotpCodes } from '../support/step-up.js';
import { STORE_KINDS } from '../support/stores.js';
import { actor, codeOf, createMfaFixture, type MfaFixture } from './mfa-fixture.js';

describe.each(STORE_KINDS)('TOTP step-up on %s', (kind) => {
  let f: MfaFixture;
  const alice = actor('alice');

  beforeEach(async () => {
    f = await createMfaFixture(kind);
  });
  afterEach(async () => {
    await f.close();
  });

  async function enrolled(): Promise<string> {
    const { secret } = await f.mfa.enrollTotp(alice);
    await f.mfa.confirmTotp(alice, await f.code(secret));
    f.clock.advance(30); // the confirming code's step is spent
    return secret;
  }

  it('enrolls, confirms and verifies with real codes, and records the step-up', async () => {
    const enrollment = await f.mfa.enrollTotp(alice);
    expect(enrollment.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(enrollment.otpauthUrl).toMatch(/^otpauth:\/\/totp\/Stint:alice\?/);
    expect(new URL(enrollment.otpauthUrl).searchParams.get('secret')).toBe(enrollment.secret);
    expect((await f.mfa.status(alice)).totp).toBe('pending');

    // A pending enrollment does not count as a factor.
    expect(await codeOf(f.mfa.verify(alice, { method: 'totp', code: await f.code(enrollment.secret) }))).toBe(
      'MFA_NOT_ENROLLED',
    );
    expect(await f.stepUp.methods('alice')).toEqual([]);

    const status = await f.mfa.confirmTotp(alice, await f.code(enrollment.secret));
    expect(status.totp).toBe('confirmed');
    // Confirming proves nothing beyond the token that enrolled it, so it is not a step-up.
    expect(status.verifiedAt).toBeNull();
    expect(await f.stepUp.freshAt('alice')).toBeNull();

    f.clock.advance(30);
    const now = f.clock.now();
    const view = await f.mfa.verify(alice, { method: 'totp', code: await f.code(enrollment.secret) });
    expect(view).toEqual({
      method: 'totp',
      verifiedAt: now.toISOString(),
      validUntil: new Date(now.getTime() + 900_000).toISOString(),
    });
    expect(await f.stepUp.freshAt('alice')).toEqual(now);
    const rows = await f.testStore.store.db.selectFrom('mfa_verifications').selectAll().execute();
    expect(rows.map((r) => ({ ...r, verified_at: Number(r.verified_at) }))).toEqual([
      { user_id: 'alice', method: 'totp', verified_at: now.getTime(), credential_id: 'session-alice' },
    ]);

    const actions = (await listAudit(f.testStore.store.db, { limit: 100 })).map((e) => [e.action, e.details]);
    expect(actions).toEqual([
      ['mfa.failed', { method: 'totp', stage: 'verify', reason: 'not-enrolled' }],
      ['mfa.enrolled', { method: 'totp', stage: 'confirm', notify: ['alice'] }],
      ['mfa.verified', { method: 'totp', stage: 'verify' }],
    ]);
  });

  it('refuses a wrong code, and an adjacent-step code is accepted (clock drift)', async () => {
    const secret = await enrolled();
    const [wrong] = await wrongTotpCodes(secret, f.clock.now(), 1);
    expect(await codeOf(f.mfa.verify(alice, { method: 'totp', code: wrong as string }))).toBe('MFA_INVALID');
    expect(await codeOf(f.mfa.verify(alice, { method: 'totp', code: 'abcdef' }))).toBe('MFA_INVALID');
    expect(await codeOf(f.mfa.verify(alice, { method: 'totp', code: await f.code(secret, 3) }))).toBe(
      'MFA_INVALID',
    );
    expect(await f.stepUp.freshAt('alice')).toBeNull();
    f.clock.advance(30); // the previous step must not be the one the confirming code spent
    await f.mfa.verify(alice, { method: 'totp', code: await f.code(secret, -1) });
    expect(await f.stepUp.freshAt('alice')).not.toBeNull();
  });

  it('refuses a code reused within its window, and an older code after a newer one', async () => {
    const secret = await enrolled();
    const code = await f.code(secret);
    await f.mfa.verify(alice, { method: 'totp', code });
    f.clock.advance(10); // same 30-second step
    expect(await codeOf(f.mfa.verify(alice, { method: 'totp', code }))).toBe('MFA_REPLAYED');
    f.clock.advance(30); // next step: the old code is still inside the tolerance, but it was used
    expect(await codeOf(f.mfa.verify(alice, { method: 'totp', code }))).toBe('MFA_REPLAYED');
    await f.mfa.verify(alice, { method: 'totp', code: await f.code(secret) });

    const failed = (await listAudit(f.testStore.store.db, { limit: 100 })).filter(
      (e) => e.action === 'mfa.failed',
    );
    expect(failed.map((e) => e.details.reason)).toEqual(['replayed', 'replayed']);
  });

  it('two verifications racing with the same code: exactly one wins', async () => {
    const secret = await enrolled();
    const code = await f.code(secret);
    const results = await Promise.allSettled([
      f.mfa.verify(alice, { method: 'totp', code }),
      f.mfa.verify(alice, { method: 'totp', code }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    // A replay once checked; on PostgreSQL, if it kept finding the count locked by the other, refused unchecked.
    expect(['MFA_REPLAYED', 'MFA_RATE_LIMITED']).toContain(rejected.reason.code);
  });

  it('rate-limits wrong codes per user: after 5 in 5 minutes even the right code waits', async () => {
    const secret = await enrolled();
    const wrong = await wrongTotpCodes(secret, f.clock.now(), 5);
    for (let i = 0; i < 5; i++) {
      expect(await codeOf(f.mfa.verify(alice, { method: 'totp', code: wrong[i] as string }))).toMatch(
        /MFA_INVALID/,
      );
      f.clock.advance(1);
    }
    let error: { code?: string; message?: string; details?: { retryAfterSeconds: number } } = {};
    await f.mfa.verify(alice, { method: 'totp', code: await f.code(secret) }).catch((e) => {
      error = e;
    });
    expect(error.code).toBe('MFA_RATE_LIMITED');
    expect(error.message).toMatch(/too many wrong second-factor attempts: try again in \d+s/);
    expect(error.details?.retryAfterSeconds).toBeGreaterThan(290);
    expect(await f.stepUp.freshAt('alice')).toBeNull();

    // Another user is not affected.
    const bob = actor('bob');
    const { secret: bobSecret } = await f.mfa.enrollTotp(bob);
    await f.mfa.confirmTotp(bob, await f.code(bobSecret));

    f.clock.advance(300);
    await f.mfa.verify(alice, { method: 'totp', code: await f.code(secret) });
    expect(await f.stepUp.freshAt('alice')).not.toBeNull();
    const reasons = (await listAudit(f.testStore.store.db, { limit: 100 }))
      .filter((e) => e.action === 'mfa.failed')
      .map((e) => e.details.reason);
    expect(reasons).toEqual([
      'wrong-code',
      'wrong-code',
      'wrong-code',
      'wrong-code',
      'wrong-code',
      'rate-limited',
    ]);
  });

  it('keeps the secret sealed at rest and never puts a secret or a code in the audit trail', async () => {
    const { secret } = await f.mfa.enrollTotp(alice);
    const code = await f.code(secret);
    await f.mfa.confirmTotp(alice, code);
    f.clock.advance(30);
    const [guess] = await wrongTotpCodes(secret, f.clock.now(), 1);
    await codeOf(f.mfa.verify(alice, { method: 'totp', code: guess as string }));
    const good = await f.code(secret);
    await f.mfa.verify(alice, { method: 'totp', code: good });

    const db = f.testStore.store.db;
    const row = await db
      .selectFrom('mfa_totp')
      .selectAll()
      .where('user_id', '=', 'alice')
      .executeTakeFirstOrThrow();
    expect(row.secret_enc).toMatch(/^v1\./);
    const everything = JSON.stringify([
      await db.selectFrom('mfa_totp').selectAll().execute(),
      await db.selectFrom('mfa_verifications').selectAll().execute(),
      await db.selectFrom('counted_attempts').selectAll().execute(),
      await db.selectFrom('audit_events').select(['body', 'action', 'actor']).execute(),
    ]);
    expect(everything).not.toContain(secret);
    expect(everything.toLowerCase()).not.toContain(secret.toLowerCase());
    expect(everything).not.toContain(Buffer.from(secret).toString('base64'));
    expect(everything).not.toContain(code);
    expect(everything).not.toContain(good);
    expect(everything).not.toContain(guess);

    // The sealed secret is bound to its user: copied onto another row it does not open.
    const { secret: bobSecret } = await f.mfa.enrollTotp(actor('bob'));
    await db
      .updateTable('mfa_totp')
      .set({ secret_enc: row.secret_enc })
      .where('user_id', '=', 'bob')
      .execute();
    await expect(f.mfa.confirmTotp(actor('bob'), await f.code(bobSecret))).rejects.toThrow();
  });

  it('a confirmed TOTP is not replaced by a new enrollment', async () => {
    await enrolled();
    expect(await codeOf(f.mfa.enrollTotp(alice))).toBe('MFA_ALREADY_ENROLLED');
  });

  it('a pending enrollment can be restarted, and only the newest secret confirms', async () => {
    const first = await f.mfa.enrollTotp(alice);
    const second = await f.mfa.enrollTotp(alice);
    expect(second.secret).not.toBe(first.secret);
    expect(await codeOf(f.mfa.confirmTotp(alice, await f.code(first.secret)))).toBe('MFA_INVALID');
    expect((await f.mfa.confirmTotp(alice, await f.code(second.secret))).totp).toBe('confirmed');
  });
});
