import type { TransitionRunner } from '../audit/transition-runner.js';
import { isStintError } from '../domain/errors.js';
import { expire, SYSTEM_ACTOR } from '../domain/state-machine.js';
import { LATE_EXPIRY_MS, type OverdueMetrics } from './overdue.js';
import type { Revoker } from './revoker.js';
import type { WorkflowDeps } from './workflow-deps.js';

/**
 * Ends an active grant at its expiry instant: the request becomes `expired` and its grant "revocation pending"
 * in one transaction, then the credential is removed from the target at once. An expiry recorded seconds late
 * (the store was out, no server was running) is alerted in the same transaction: access outlived its window.
 */
export function createExpirer(
  deps: Pick<WorkflowDeps, 'grants' | 'audit' | 'clock' | 'logger'>,
  run: TransitionRunner,
  revoker: Revoker,
  metrics: OverdueMetrics,
  lateExpiryMs = LATE_EXPIRY_MS,
) {
  const running = new Set<string>();
  /** Due while the store could not record it: logged once per grant, not at every attempt. */
  const delayed = new Set<string>();

  return async function expireGrant(id: string): Promise<void> {
    if (running.has(id)) return;
    running.add(id);
    try {
      const now = deps.clock();
      try {
        let lateMs = 0;
        await run(
          id,
          now,
          (r) => expire(r, now),
          async (trx, _t, before) => {
            await deps.grants.markRevocationPending(trx, id, now);
            lateMs = before.expiresAt ? now.getTime() - before.expiresAt.getTime() : 0;
            if (lateMs < lateExpiryMs) return;
            await deps.audit.append(trx, {
              at: now,
              actor: SYSTEM_ACTOR,
              action: 'grant.expired_late',
              requestId: id,
              target: { resource: before.resource, role: before.role },
              details: { expiresAt: before.expiresAt?.toISOString(), lateMs, alert: true },
            });
          },
        );
        delayed.delete(id);
        if (lateMs >= lateExpiryMs) {
          metrics.expiriesLate += 1;
          deps.logger.error({ requestId: id, lateMs }, 'grant expired late: access outlived its window');
        }
      } catch (e) {
        // Already ended (revoked meanwhile, or another server expired it): nothing to do here.
        if (isStintError(e) && (e.code === 'INVALID_TRANSITION' || e.code === 'CONCURRENT_UPDATE')) return;
        throw e;
      }
      await revoker.revokeOnTarget(id);
    } catch (e) {
      if (isStintError(e) && (e.code === 'STORE_UNAVAILABLE' || e.code === 'STORE_FULL')) {
        if (!delayed.has(id)) {
          delayed.add(id);
          metrics.expiriesDelayedByStore += 1;
          deps.logger.error(
            { requestId: id, code: e.code },
            'expiry overdue: the store cannot record it, so access continues until the store is back',
          );
        }
      } else {
        deps.logger.error({ requestId: id, err: e }, 'expiring a grant failed; the sweeper will retry');
      }
    } finally {
      running.delete(id);
    }
  };
}

export type Expirer = ReturnType<typeof createExpirer>;
