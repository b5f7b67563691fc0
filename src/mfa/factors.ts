import type { AuditWriter } from '../audit/audit-writer.js';
import type { Actor } from '../domain/actor.js';
import { formatDuration } from '../domain/duration.js';
import { StintError } from '../domain/errors.js';
import type { Logger } from '../logger.js';
import { mfaEvent } from './attempts.js';
import { type MfaMethod, mfaStore } from './mfa-store.js';
import type { StepUpView } from './mfa-types.js';
import { isFresh, type StepUp } from './step-up.js';

/** How recent a sign-in at the identity provider must be to enrol a first factor, by default. */
export const DEFAULT_REAUTH_MAX_AGE_SECONDS = 5 * 60;

/**
 * Only the person, in a session they signed in to, changes their second factors: never an API token (a scoped
 * automation token or a stolen one would otherwise plant the thief's authenticator and pass every later
 * step-up). First checks: run before anything about the account is said.
 */
export function requirePersonSession(actor: Actor): void {
  const kind = actor.credential?.kind;
  if (kind !== 'session' && kind !== 'cookie') {
    throw new StintError(
      'SESSION_REQUIRED',
      'second factors are changed in a signed-in session (`stint login` or the portal), not with an API token',
    );
  }
}

/**
 * Adding or replacing a factor: a signed-in session, and proof it is the person now. With a factor already
 * enrolled that is a fresh step-up with it (or a second factor at the provider); a lost one is reset by an
 * admin and a second person from security. Without one, a sign-in at the provider in the last few minutes
 * (its `auth_time`), so a session left open on someone's desk cannot enrol a stranger's authenticator.
 */
export async function requireFactorChange(
  deps: { stepUp: StepUp; clock: () => Date; reauthMaxAgeSeconds?: number },
  actor: Actor,
): Promise<void> {
  requirePersonSession(actor);
  if ((await deps.stepUp.methods(actor.userId)).length > 0) {
    if (actor.hostSession?.limited) {
      // The operator who made the session could otherwise swap the person's factor for their own.
      throw new StintError(
        'HOST_SESSION_LIMITED',
        'a session made on the server host may only enrol a first second factor, and this account has one',
      );
    }
    await deps.stepUp.require(actor, 'changing the second factors of an account that has one');
    return;
  }
  const maxAge = deps.reauthMaxAgeSeconds ?? DEFAULT_REAUTH_MAX_AGE_SECONDS;
  const now = deps.clock();
  // A sign-in "in the future" is a provider's clock or a forgery: isFresh does not count it.
  if (!isFresh(actor.authAt, now, maxAge)) {
    throw new StintError(
      'REAUTH_REQUIRED',
      `enrolling a first second factor needs a sign-in at the identity provider in the last ${formatDuration(maxAge)}: sign in again (\`stint login\`, or the portal) and enrol straight away`,
      { maxAgeSeconds: maxAge },
    );
  }
}

/**
 * A factor was added, replaced or removed: the audit event (written by the caller in its transaction) names the
 * user under `notify`, for a notify module to deliver; until one exists this log line is the notice, after commit.
 */
export function logFactorChange(
  logger: Pick<Logger, 'warn'> | undefined,
  change: { userId: string; action: string; method?: string; by: string },
): void {
  logger?.warn(change, 'second factors changed: tell the user (not them? their account needs attention)');
}

/** Records a step-up and its audit event in one transaction. */
export async function recordStepUp(
  deps: { stepUp: Pick<StepUp, 'maxAgeSeconds'>; audit: AuditWriter },
  trx: Parameters<typeof mfaStore.addVerification>[0],
  actor: Actor,
  method: MfaMethod,
  now: Date,
  extra: { authenticatorId?: string } = {},
): Promise<StepUpView> {
  await mfaStore.addVerification(trx, actor.userId, method, now, actor.credential?.id ?? null);
  await deps.audit.append(trx, mfaEvent(actor, now, 'mfa.verified', { method, stage: 'verify', ...extra }));
  return {
    method,
    verifiedAt: now.toISOString(),
    validUntil: new Date(now.getTime() + deps.stepUp.maxAgeSeconds * 1000).toISOString(),
  };
}
