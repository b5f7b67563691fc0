import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stint } from '../../src/app/stint.js';
import { createAuditWriter } from '../../src/audit/audit-writer.js';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { createMfaService } from '../../src/mfa/mfa-service.js';
import { createStepUp } from '../../src/mfa/step-up.js';
import { stepUp } from '../support/step-up.js';
import { createTestStore, type TestStore } from '../support/stores.js';

/**
 * The tests' step-up helper (support/step-up.ts) once confirmed with the previous step's code, computed from the
 * wall clock: whenever a 30-s boundary passed before the check, that code was two steps old and refused, and
 * whichever test stepped up failed ("wrong code"). It now reads the app's clock and uses this step's code and
 * the next; here the app's clock moves a second on every read from 25 s into a step, so a boundary passes
 * between the helper reading it and the checks, as it did by chance in CI.
 */
describe('the step-up helper does not depend on where in a 30-s step it runs', () => {
  let t: TestStore;
  beforeAll(async () => {
    t = await createTestStore('sqlite');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('steps up although a time-step boundary passes between reading the clock and the checks', async () => {
    let now = Date.parse('2026-03-04T10:00:25Z');
    const clock = () => {
      now += 1000;
      return new Date(now);
    };
    const stepUpRule = createStepUp({ store: t.store, clock, maxAgeSeconds: 900 });
    const service = createMfaService({
      store: t.store,
      audit: createAuditWriter([]),
      secrets: createSecretBox(randomBytes(32)),
      clock,
      stepUp: stepUpRule,
      config: { maxAgeSeconds: 900, issuer: 'Stint', webauthn: null },
    });
    const users = new Map([['alice', { security: false, admin: false, auditor: false }]]);
    // Only what the helper reads of the app: the directory, the clock and the MFA service.
    const app = { mfa: { service }, deps: { policy: { current: () => ({ users }) }, clock } };
    const start = now;
    await stepUp(app as unknown as Pick<Stint, 'mfa' | 'deps'>, 'alice', `stint_${'a'.repeat(16)}.secret`);
    expect(Math.floor(now / 30_000)).toBeGreaterThan(Math.floor(start / 30_000));
    expect(await stepUpRule.freshAt('alice')).not.toBeNull();
  });
});
