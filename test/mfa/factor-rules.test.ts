import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFactorReset, RESET_TTL_MS } from '../../src/mfa/factor-reset.js';
import { STORE_KINDS } from '../support/stores.js';
import { actor, codeOf, createMfaFixture, type MfaFixture, SIGNED_IN_AT } from './mfa-fixture.js';

/** Who may change factors, at the service: the HTTP attack itself is in factor-changes.test.ts. */
describe.each(STORE_KINDS)('factor change rules on %s', (kind) => {
  let f: MfaFixture;
  beforeEach(async () => {
    f = await createMfaFixture(kind);
  });
  afterEach(async () => {
    await f.close();
  });

  it('no API token, scoped or full-power, starts or finishes an enrolment of either kind', async () => {
    for (const scopes of [null, ['approvals:write']]) {
      const token = actor('alice', { credential: { kind: 'api-token', id: 'tok', scopes } });
      expect(await codeOf(f.mfa.enrollTotp(token))).toBe('SESSION_REQUIRED');
      expect(await codeOf(f.mfa.confirmTotp(token, '123456'))).toBe('SESSION_REQUIRED');
      expect(await codeOf(f.mfa.webauthnRegisterOptions(token))).toBe('SESSION_REQUIRED');
      expect(await codeOf(f.mfa.webauthnRegisterVerify(token, {}))).toBe('SESSION_REQUIRED');
    }
    const noCredential = actor('alice', { credential: undefined });
    expect(await codeOf(f.mfa.enrollTotp(noCredential))).toBe('SESSION_REQUIRED');
    expect(await f.testStore.store.db.selectFrom('mfa_totp').selectAll().execute()).toEqual([]);
  });

  it('a first factor needs a sign-in younger than five minutes; a portal cookie session counts like the CLI', async () => {
    const cookie = actor('alice', { credential: { kind: 'cookie', id: 'c1', scopes: null } });
    expect((await f.mfa.enrollTotp(cookie)).secret).toMatch(/^[A-Z2-7]+$/);
    f.clock.advance(5 * 60);
    expect(await codeOf(f.mfa.enrollTotp(cookie))).toBe('REAUTH_REQUIRED');
    expect(await codeOf(f.mfa.enrollTotp(actor('alice', { authAt: f.clock.now() })))).not.toBe(
      'REAUTH_REQUIRED',
    );
  });

  describe('two-person reset', () => {
    const ann = actor('ann', { admin: true, security: true });
    const sam = actor('sam', { security: true });
    const resets = () =>
      createFactorReset({
        store: f.testStore.store,
        audit: f.audit,
        clock: f.clock.now,
        stepUp: f.stepUp,
        userExists: () => true,
      });

    async function steppedUp(who: typeof ann) {
      const { secret } = await f.mfa.enrollTotp(who);
      await f.mfa.confirmTotp(who, await f.code(secret, -1));
      await f.mfa.verify(who, { method: 'totp', code: await f.code(secret) });
    }

    it('the admin who asked cannot confirm, even when also in security; a reset expires after a day', async () => {
      expect(SIGNED_IN_AT.getTime()).toBeLessThan(f.clock.now().getTime());
      await steppedUp(ann);
      await steppedUp(sam);
      const r = resets();
      const asked = await r.request(ann, { user: 'bob', reason: 'lost phone' });
      expect(await codeOf(r.confirm(ann, asked.id))).toBe('SELF_APPROVAL');
      const late = await r.request(ann, { user: 'bob', reason: 'again' });
      f.clock.advance(RESET_TTL_MS / 1000);
      // Her step-up is stale by now too: the expiry is what refuses first.
      expect(await codeOf(r.confirm(sam, late.id))).toBe('NOT_FOUND');
    });

    it('asking and confirming both need a fresh second factor of their own', async () => {
      const r = resets();
      expect(await codeOf(r.request(ann, { user: 'bob', reason: 'lost phone' }))).toBe('MFA_REQUIRED');
      await steppedUp(ann);
      const asked = await r.request(ann, { user: 'bob', reason: 'lost phone' });
      expect(await codeOf(r.confirm(sam, asked.id))).toBe('MFA_REQUIRED');
      expect(await f.testStore.store.db.selectFrom('mfa_resets').select('confirmed_at').execute()).toEqual([
        { confirmed_at: null },
      ]);
    });
  });
});
