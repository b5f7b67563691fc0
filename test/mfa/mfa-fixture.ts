import { randomBytes } from 'node:crypto';
import { generate } from 'otplib';
import { type AuditWriter, createAuditWriter } from '../../src/audit/audit-writer.js';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import type { Actor } from '../../src/domain/actor.js';
import type { MfaConfig } from '../../src/mfa/mfa-config.js';
import { createMfaService } from '../../src/mfa/mfa-service.js';
import type { MfaService } from '../../src/mfa/mfa-types.js';
import { createStepUp, type StepUp } from '../../src/mfa/step-up.js';
import { createTestStore, type StoreKind, type TestStore } from '../support/stores.js';

export const ORIGIN = 'https://stint.example.test';
export const RP_ID = 'stint.example.test';

/** A clock the test moves by hand; it starts at a fixed instant in the middle of a TOTP step. */
export function manualClock(start = new Date('2026-03-04T10:00:10Z')) {
  let now = start.getTime();
  return {
    now: () => new Date(now),
    advance(seconds: number) {
      now += seconds * 1000;
    },
  };
}

/** When the fixture's people signed in at the identity provider: just before the manual clock starts. */
export const SIGNED_IN_AT = new Date('2026-03-04T10:00:00Z');

/** A person in a session they signed in to at SIGNED_IN_AT, unless `extra` says otherwise. */
export const actor = (userId: string, extra: Partial<Actor> = {}): Actor => ({
  userId,
  security: false,
  admin: false,
  auditor: false,
  source: { ip: '203.0.113.7', userAgent: 'vitest' },
  credential: { kind: 'session', id: `session-${userId}`, scopes: null },
  authAt: SIGNED_IN_AT,
  ...extra,
});

export interface MfaFixture {
  testStore: TestStore;
  mfa: MfaService;
  stepUp: StepUp;
  /** Without a server, events carry no MAC: nothing builds a tree here. */
  audit: AuditWriter;
  clock: ReturnType<typeof manualClock>;
  /** The code an authenticator app shows for `secret` at the fixture's current time (plus `offsetSteps`). */
  code(secret: string, offsetSteps?: number): Promise<string>;
  close(): Promise<void>;
}

export async function createMfaFixture(
  kind: StoreKind,
  opts: { maxAgeSeconds?: number; webauthn?: boolean } = {},
): Promise<MfaFixture> {
  const testStore = await createTestStore(kind);
  const clock = manualClock();
  const maxAgeSeconds = opts.maxAgeSeconds ?? 900;
  const config: MfaConfig = {
    maxAgeSeconds,
    issuer: 'Stint',
    webauthn: opts.webauthn === false ? null : { rpId: RP_ID, origin: ORIGIN, rpName: 'Stint' },
  };
  const stepUp = createStepUp({ store: testStore.store, clock: clock.now, maxAgeSeconds });
  const audit = createAuditWriter([]);
  const mfa = createMfaService({
    store: testStore.store,
    audit,
    secrets: createSecretBox(randomBytes(32)),
    clock: clock.now,
    stepUp,
    config,
  });
  return {
    testStore,
    mfa,
    stepUp,
    audit,
    clock,
    code: (secret, offsetSteps = 0) =>
      generate({ secret, epoch: Math.floor(clock.now().getTime() / 1000) + offsetSteps * 30 }),
    close: () => testStore.close(),
  };
}

/** The StintError code a promise rejects with. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
  return 'resolved';
}
