import { isStintError, StintError } from '../domain/errors.js';
import { SYSTEM_ACTOR } from '../domain/state-machine.js';
import type { WorkflowDeps } from '../requests/context.js';

const MAX_BACKOFF_MS = 5 * 60_000;

/** What a user may see of a failure: our own messages, never a driver's (which can echo statements). */
export function describeError(e: unknown): string {
  return isStintError(e) ? e.message : 'unexpected error (see server log)';
}

/** Retry delay after `attempts` failures: 1 s, 2 s, 4 s … capped at 5 min, with jitter so retries spread out. */
export function backoffMs(attempts: number): number {
  const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * Removes a grant's credential from its target and records the outcome. Access has already ended in Stint
 * (the grant is "revocation pending"); this makes it true on the target, and is retried until it is.
 */
export function createRevoker(
  deps: Pick<WorkflowDeps, 'store' | 'grants' | 'audit' | 'policy' | 'providers' | 'clock' | 'logger'>,
) {
  const db = deps.store.db;
  const inFlight = new Map<string, Promise<boolean>>();

  async function attempt(requestId: string): Promise<boolean> {
    const grant = await deps.grants.get(db, requestId);
    if (!grant || grant.revocation === 'done') return true;
    try {
      const resource = deps.policy.current().resources.get(grant.resource);
      if (!resource)
        throw new StintError('PROVIDER_ERROR', `resource ${grant.resource} is no longer in the policy`);
      const provider = deps.providers.get(resource);
      await provider.revoke(grant.principal);
      if (!(await provider.verifyRevoked(grant.principal))) {
        throw new StintError(
          'PROVIDER_ERROR',
          `${grant.principal} still present on ${grant.resource} after revocation`,
        );
      }
      const now = deps.clock();
      await db.transaction().execute(async (trx) => {
        if (await deps.grants.markRevoked(trx, requestId, now)) {
          await deps.audit.append(trx, {
            at: now,
            actor: SYSTEM_ACTOR,
            action: 'grant.revocation_completed',
            requestId,
            details: {
              resource: grant.resource,
              principal: grant.principal,
              attempts: grant.revoke_attempts + 1,
            },
          });
        }
      });
      return true;
    } catch (e) {
      const now = deps.clock();
      const attempts = grant.revoke_attempts + 1;
      const nextAt = new Date(now.getTime() + backoffMs(attempts));
      const error = describeError(e);
      deps.logger.warn(
        { requestId, principal: grant.principal, attempts, err: e },
        'revocation failed; will retry',
      );
      await db.transaction().execute(async (trx) => {
        await deps.grants.markRevokeFailed(trx, requestId, error, nextAt);
        await deps.audit.append(trx, {
          at: now,
          actor: SYSTEM_ACTOR,
          action: 'grant.revocation_failed',
          requestId,
          details: {
            resource: grant.resource,
            principal: grant.principal,
            attempts,
            error,
            nextAttemptAt: nextAt.toISOString(),
          },
        });
      });
      return false;
    }
  }

  return {
    /** Concurrent callers for the same grant (timer, sweeper, user) share one attempt. */
    revokeOnTarget(requestId: string): Promise<boolean> {
      const running = inFlight.get(requestId);
      if (running) return running;
      const p = attempt(requestId).finally(() => inFlight.delete(requestId));
      inFlight.set(requestId, p);
      return p;
    },
    async idle(): Promise<void> {
      await Promise.allSettled([...inFlight.values()]);
    },
  };
}

export type Revoker = ReturnType<typeof createRevoker>;
