import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { approvalStepUpReason } from '../../src/mfa/approval-step-up.js';
import { mfaConfigFromEnv } from '../../src/mfa/mfa-config.js';
import { mfaStore } from '../../src/mfa/mfa-store.js';
import { createStepUp, isFresh } from '../../src/mfa/step-up.js';
import { actor, createMfaFixture, type MfaFixture } from './mfa-fixture.js';

describe('isFresh', () => {
  const now = new Date('2026-03-04T10:00:00Z');
  it('counts a verification younger than the max age, not one at or past it', () => {
    expect(isFresh(new Date(now.getTime() - 899_999), now, 900)).toBe(true);
    expect(isFresh(new Date(now.getTime() - 900_000), now, 900)).toBe(false);
    expect(isFresh(null, now, 900)).toBe(false);
    expect(isFresh(undefined, now, 900)).toBe(false);
  });
});

describe('step-up freshness with an injected clock', () => {
  let f: MfaFixture;
  beforeEach(async () => {
    f = await createMfaFixture('sqlite', { maxAgeSeconds: 900 });
  });
  afterEach(async () => {
    await f.close();
  });

  it('is required, then satisfied by a TOTP step-up for 15 minutes, then required again', async () => {
    const alice = actor('alice');
    const first = await f.stepUp.require(alice, 'approving a critical request').catch((e) => e);
    expect(first.code).toBe('MFA_REQUIRED');
    expect(first.message).toBe(
      'approving a critical request needs a second factor verified in the last 15m: enroll one first with `stint mfa enroll totp`, then run `stint mfa verify`',
    );
    expect(first.details).toEqual({ methods: [], maxAgeSeconds: 900 });

    const { secret } = await f.mfa.enrollTotp(alice);
    await f.mfa.confirmTotp(alice, await f.code(secret));
    const enrolled = await f.stepUp.require(alice, 'approving a critical request').catch((e) => e);
    expect(enrolled.message).toBe(
      'approving a critical request needs a second factor verified in the last 15m: run `stint mfa verify`',
    );
    expect(enrolled.details).toEqual({ methods: ['totp'], maxAgeSeconds: 900 });

    f.clock.advance(30);
    const verifiedAt = f.clock.now();
    await f.mfa.verify(alice, { method: 'totp', code: await f.code(secret) });
    expect(await f.stepUp.require(alice, 'approving a critical request')).toEqual(verifiedAt);

    f.clock.advance(899);
    expect(await f.stepUp.freshAt('alice')).toEqual(verifiedAt);
    f.clock.advance(1);
    expect(await f.stepUp.freshAt('alice')).toBeNull();
    expect((await f.stepUp.require(alice, 'approving a critical request').catch((e) => e)).code).toBe(
      'MFA_REQUIRED',
    );
    // A step-up is per user.
    await mfaStore.addVerification(f.testStore.store.db, 'bob', 'totp', f.clock.now(), null);
    expect(await f.stepUp.freshAt('alice')).toBeNull();
  });

  it("counts only for the token or session that stepped up: another of the user's tokens gains nothing", async () => {
    const cli = actor('alice', { credential: { kind: 'session', id: 'ses_cli', scopes: null } });
    const stolen = actor('alice', { credential: { kind: 'api-token', id: 'tok_other', scopes: null } });
    const { secret } = await f.mfa.enrollTotp(cli);
    await f.mfa.confirmTotp(cli, await f.code(secret));
    f.clock.advance(30);
    await f.mfa.verify(cli, { method: 'totp', code: await f.code(secret) });
    expect(await f.stepUp.require(cli, 'approving a critical request')).toEqual(f.clock.now());
    expect((await f.stepUp.require(stolen, 'approving a critical request').catch((e) => e)).code).toBe(
      'MFA_REQUIRED',
    );
    expect((await f.mfa.status(stolen)).verifiedAt).toBeNull();
    expect((await f.mfa.status(cli)).verifiedAt).toBe(f.clock.now().toISOString());
    const [row] = await f.testStore.store.db.selectFrom('mfa_verifications').selectAll().execute();
    expect(row?.credential_id).toBe('ses_cli');
  });

  it("counts the identity provider's acr/amr verification (actor.mfaAt) within the same max age", async () => {
    const now = f.clock.now();
    const recent = actor('alice', { mfaAt: new Date(now.getTime() - 60_000) });
    expect(await f.stepUp.require(recent, 'approving a sensitive request')).toEqual(recent.mfaAt);
    const old = actor('alice', { mfaAt: new Date(now.getTime() - 901_000) });
    expect((await f.stepUp.require(old, 'approving a sensitive request').catch((e) => e)).code).toBe(
      'MFA_REQUIRED',
    );
    expect((await f.stepUp.require(actor('alice', { mfaAt: null }), 'x').catch((e) => e)).code).toBe(
      'MFA_REQUIRED',
    );
  });

  it('refuses a nonsensical max age at start-up', () => {
    expect(() => createStepUp({ store: f.testStore.store, clock: f.clock.now, maxAgeSeconds: 0 })).toThrow(
      /positive/,
    );
  });
});

describe('MFA configuration from the environment', () => {
  it('defaults to 15 minutes and no WebAuthn', () => {
    expect(mfaConfigFromEnv({})).toEqual({ maxAgeSeconds: 900, issuer: 'Stint', webauthn: null });
  });
  it('reads the max age and the WebAuthn relying party', () => {
    expect(
      mfaConfigFromEnv({
        STINT_MFA_MAX_AGE: '5m',
        STINT_WEBAUTHN_ORIGIN: 'https://stint.example.com',
        STINT_WEBAUTHN_RP_ID: 'example.com',
      }),
    ).toEqual({
      maxAgeSeconds: 300,
      issuer: 'Stint',
      webauthn: { rpId: 'example.com', origin: 'https://stint.example.com', rpName: 'Stint' },
    });
    expect(mfaConfigFromEnv({ STINT_WEBAUTHN_ORIGIN: 'http://localhost:7070' }).webauthn?.rpId).toBe(
      'localhost',
    );
  });
  it('fails fast on a bad combination', () => {
    expect(() => mfaConfigFromEnv({ STINT_MFA_MAX_AGE: 'soon' })).toThrow(/STINT_MFA_MAX_AGE/);
    expect(() => mfaConfigFromEnv({ STINT_WEBAUTHN_RP_ID: 'example.com' })).toThrow(/STINT_WEBAUTHN_ORIGIN/);
    expect(() => mfaConfigFromEnv({ STINT_WEBAUTHN_ORIGIN: 'http://stint.example.com' })).toThrow(/https/);
    expect(() => mfaConfigFromEnv({ STINT_WEBAUTHN_ORIGIN: 'https://stint.example.com/app' })).toThrow(
      /origin only/,
    );
    expect(() =>
      mfaConfigFromEnv({
        STINT_WEBAUTHN_ORIGIN: 'https://stint.example.com',
        STINT_WEBAUTHN_RP_ID: 'other.com',
      }),
    ).toThrow(/parent domain/);
  });
});

describe('approvalStepUpReason', () => {
  it('asks for a second factor to approve sensitive and critical access, never to deny', () => {
    expect(approvalStepUpReason('critical', 'approve')).toBe('approving a critical request');
    expect(approvalStepUpReason('sensitive', 'approve')).toBe('approving a sensitive request');
    expect(approvalStepUpReason(undefined, 'approve')).toBe('approving a critical request');
    expect(approvalStepUpReason('routine', 'approve')).toBeNull();
    expect(approvalStepUpReason('critical', 'deny')).toBeNull();
  });
});
