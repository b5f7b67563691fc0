import { appendAudit } from '../audit/audit-store.js';
import type { Actor } from '../requests/request-types.js';
import { mfaEvent } from './attempts.js';
import { type MfaMethod, mfaStore } from './mfa-store.js';
import type { StepUpView } from './mfa-types.js';
import type { StepUp } from './step-up.js';

/**
 * Once a user has a second factor, adding or replacing one needs a fresh step-up: otherwise a stolen API token
 * alone could enroll the thief's own authenticator and pass every later step-up.
 */
export async function requireStepUpToChangeFactors(stepUp: StepUp, actor: Actor): Promise<void> {
  if ((await stepUp.methods(actor.userId)).length === 0) return;
  await stepUp.require(actor, 'changing the second factors of an account that has one');
}

/** Records a step-up and its audit event in one transaction. */
export async function recordStepUp(
  deps: { stepUp: Pick<StepUp, 'maxAgeSeconds'> },
  trx: Parameters<typeof mfaStore.addVerification>[0],
  actor: Actor,
  method: MfaMethod,
  now: Date,
  extra: { authenticatorId?: string } = {},
): Promise<StepUpView> {
  await mfaStore.addVerification(trx, actor.userId, method, now, actor.credential?.id ?? null);
  await appendAudit(trx, mfaEvent(actor, now, 'mfa.verified', { method, stage: 'verify', ...extra }));
  return {
    method,
    verifiedAt: now.toISOString(),
    validUntil: new Date(now.getTime() + deps.stepUp.maxAgeSeconds * 1000).toISOString(),
  };
}
