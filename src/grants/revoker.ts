import { isStintError, StintError } from '../domain/errors.js';
import { SYSTEM_ACTOR } from '../domain/state-machine.js';
import {
  failureClass,
  isPermanentFailure,
  NO_CANCEL,
  permanentProviderError,
} from '../providers/provider.js';
import type { GrantRow } from '../store/grant-store.js';
import { createOverdueMetrics, type OverdueMetrics } from './overdue.js';
import type { WorkflowDeps } from './workflow-deps.js';

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
 * (the grant is "revocation pending"); this makes it true on the target, and is retried until it is, or until
 * the provider says no retry can succeed: then the revocation is `abandoned`, loudly, for a person to finish.
 *
 * The first failure raises the alert (`grant.revocation_overdue`, with the failure's class: a rotated admin
 * password, rights taken away, a target out of reach), retries go on with backoff without alerting again, and
 * the success that finally comes clears it (`grant.revocation_overdue_cleared`).
 */
export function createRevoker(
  deps: Pick<
    WorkflowDeps,
    'store' | 'requests' | 'grants' | 'audit' | 'policy' | 'providers' | 'clock' | 'logger'
  >,
  metrics: OverdueMetrics = createOverdueMetrics(),
  /** Aborts when this server stops and will not wait longer: target calls in flight are cut. */
  shutdown: () => AbortSignal = () => NO_CANCEL,
) {
  const db = deps.store.db;
  const inFlight = new Map<string, Promise<boolean>>();

  async function attempt(requestId: string): Promise<boolean> {
    const grant = await deps.grants.get(db, requestId);
    if (!grant || grant.revocation === 'done') return true;
    if (grant.revocation === 'abandoned') return false;
    try {
      const resource = deps.policy.current().resources.get(grant.resource);
      if (!resource)
        throw permanentProviderError(`resource ${grant.resource} is no longer in the policy`, {
          class: 'gone',
        });
      const provider = deps.providers.get(resource);
      const capabilities = deps.providers.capabilities(resource);
      // Whatever early cut-off the kind has (none, a revocation list, a deny rule), it applies here.
      await provider.revoke({ principal: grant.principal }, shutdown());
      if (capabilities.revocation === 'expire-only') {
        if (await waitForExpiry(grant, capabilities.cutoff)) return false;
      } else if (!(await provider.verifyRevoked({ principal: grant.principal }, shutdown())).gone) {
        throw new StintError(
          'PROVIDER_ERROR',
          `${grant.principal} still present on ${grant.resource} after revocation`,
        );
      }
      const now = deps.clock();
      const attempts = grant.revoke_attempts + 1;
      const target = { resource: grant.resource, principal: grant.principal };
      const cleared = await db.transaction().execute(async (trx) => {
        if (!(await deps.grants.markRevoked(trx, requestId, now))) return false;
        await deps.audit.append(trx, {
          at: now,
          actor: SYSTEM_ACTOR,
          action: 'grant.revocation_completed',
          requestId,
          details: {
            ...target,
            attempts,
            ...(capabilities.revocation === 'expire-only' ? { endedBy: 'expiry' } : {}),
          },
        });
        // Failed before: its overdue alert was raised then, and is cleared now.
        if (grant.revoke_attempts === 0) return false;
        await deps.audit.append(trx, {
          at: now,
          actor: SYSTEM_ACTOR,
          action: 'grant.revocation_overdue_cleared',
          requestId,
          details: { ...target, attempts },
        });
        return true;
      });
      if (cleared) {
        metrics.revocationsCleared += 1;
        deps.logger.warn({ requestId, ...target, attempts }, 'overdue revocation completed: alert cleared');
      }
      return true;
    } catch (e) {
      // Not a failure of the target: the revocation stays pending as it was, for the next pass on any server.
      if (shutdown().aborted) return false;
      if (isPermanentFailure(e)) return abandon(grant, describeError(e));
      const now = deps.clock();
      const attempts = grant.revoke_attempts + 1;
      const nextAt = new Date(now.getTime() + backoffMs(attempts));
      const error = describeError(e);
      const cls = failureClass(e);
      const target = { resource: grant.resource, principal: grant.principal };
      deps.logger.warn(
        { requestId, principal: grant.principal, attempts, class: cls, err: e },
        'revocation failed; will retry',
      );
      const alerted = await db.transaction().execute(async (trx) => {
        // Another server recorded this attempt first: its events (and alert) stand for both.
        if (!(await deps.grants.markRevokeFailed(trx, requestId, error, nextAt, attempts))) return false;
        await deps.audit.append(trx, {
          at: now,
          actor: SYSTEM_ACTOR,
          action: 'grant.revocation_failed',
          requestId,
          details: { ...target, attempts, error, class: cls, nextAttemptAt: nextAt.toISOString() },
        });
        if (attempts > 1) return false;
        await deps.audit.append(trx, {
          at: now,
          actor: SYSTEM_ACTOR,
          action: 'grant.revocation_overdue',
          requestId,
          details: { ...target, class: cls, error, alert: true },
        });
        return true;
      });
      if (alerted) {
        metrics.revocationsAlerted += 1;
        deps.logger.error(
          { requestId, ...target, class: cls, error },
          'revocation overdue: access that ended is still on the target; retrying until it is removed',
        );
      }
      return false;
    }
  }

  /**
   * An expire-only credential (an SSH certificate, a cloud session token) cannot be removed before its own end,
   * which is the request's window end. Until then the revocation waits, audited once with how an early cut-off
   * is enforced instead; it is not a failure and is not retried before then. True while it must still wait.
   */
  async function waitForExpiry(grant: GrantRow, cutoff: string | undefined): Promise<boolean> {
    const now = deps.clock();
    const request = await deps.requests.get(db, grant.request_id);
    const endsAt = request?.expiresAt;
    if (!endsAt || endsAt.getTime() <= now.getTime()) return false;
    await db.transaction().execute(async (trx) => {
      if (!(await deps.grants.deferRevocation(trx, grant.request_id, endsAt))) return;
      await deps.audit.append(trx, {
        at: now,
        actor: SYSTEM_ACTOR,
        action: 'grant.revocation_deferred',
        requestId: grant.request_id,
        details: {
          resource: grant.resource,
          principal: grant.principal,
          until: endsAt.toISOString(),
          cutoff: cutoff ?? 'none: the credential is valid until its own expiry',
        },
      });
    });
    deps.logger.info(
      { requestId: grant.request_id, resource: grant.resource, until: endsAt.toISOString() },
      'revocation waits for the credential’s own expiry: its target cannot remove it early',
    );
    return true;
  }

  /**
   * No retry can succeed (the target's database is gone, the resource left the policy): a terminal state the
   * sweeper no longer picks up, an alerting audit event and an error line. What may remain on the target is
   * for a person to remove.
   */
  async function abandon(grant: GrantRow, error: string): Promise<boolean> {
    const now = deps.clock();
    const attempts = grant.revoke_attempts + 1;
    deps.logger.error(
      { requestId: grant.request_id, resource: grant.resource, principal: grant.principal, attempts, error },
      'revocation abandoned: it cannot succeed; check the target by hand',
    );
    await db.transaction().execute(async (trx) => {
      if (!(await deps.grants.markRevocationAbandoned(trx, grant.request_id, error))) return;
      await deps.audit.append(trx, {
        at: now,
        actor: SYSTEM_ACTOR,
        action: 'grant.revocation_abandoned',
        requestId: grant.request_id,
        details: { resource: grant.resource, principal: grant.principal, attempts, error, alert: true },
      });
    });
    return false;
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
    metrics,
  };
}

export type Revoker = ReturnType<typeof createRevoker>;
