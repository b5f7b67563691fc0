import type { DegradedCheck } from '../module.js';
import type { WorkflowDeps } from './workflow-deps.js';

/**
 * How late an expiry may be processed before it is alerted. Timers end access within milliseconds and the sweep
 * catches what they miss within a second; seconds late means something stopped them (the store was out, the
 * server was down).
 */
export const LATE_EXPIRY_MS = 5_000;

/** How many request ids /readyz names per degraded check: enough to start from, not a listing. */
const NAMED = 10;

/**
 * Access that should have ended and has not, counted in memory for an operations module to publish. Each is
 * raised once per grant (with an alerting audit event), not on every retry.
 */
export interface OverdueMetrics {
  /** Revocations alerted overdue (their first failure), and those later completed (the alert cleared). */
  revocationsAlerted: number;
  revocationsCleared: number;
  /** Expiries processed later than LATE_EXPIRY_MS after their instant (alerted). */
  expiriesLate: number;
  /** Expiries that came due while the store could not record them (logged; alerted once processed). */
  expiriesDelayedByStore: number;
}

export function createOverdueMetrics(): OverdueMetrics {
  return { revocationsAlerted: 0, revocationsCleared: 0, expiriesLate: 0, expiriesDelayedByStore: 0 };
}

/**
 * What /readyz names as degraded, read from the store so every server of a deployment says the same: revocations
 * retried after failing (the target refuses Stint's admin, is out of reach …) and live grants past their window.
 * Degraded, not "not ready": the server still serves, and failing readiness on every server at once because one
 * target is broken would take the whole service (other targets' access and revocations included) down with it.
 */
export function overdueChecks(
  deps: Pick<WorkflowDeps, 'store' | 'grants' | 'requests' | 'clock'>,
  lateExpiryMs = LATE_EXPIRY_MS,
): DegradedCheck[] {
  const db = deps.store.db;
  return [
    async () => {
      const { count, requestIds } = await deps.grants.overdueRevocations(db, NAMED);
      if (count === 0) return null;
      return {
        check: 'revocations',
        message: `${count} revocation(s) overdue: access that ended in Stint is still on its target, retried until removed`,
        count,
        requests: requestIds,
      };
    },
    async () => {
      const until = new Date(deps.clock().getTime() - lateExpiryMs);
      const late = await deps.requests.dueExpiries(db, until, 100);
      if (late.length === 0) return null;
      return {
        check: 'expiries',
        message: `${late.length === 100 ? '100 or more' : late.length} grant(s) past their window still active`,
        count: late.length,
        requests: late.slice(0, NAMED).map((d) => d.id),
      };
    },
  ];
}
