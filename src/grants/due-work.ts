import type { Expirer } from './expirer.js';
import type { ExpiryScheduler } from './expiry-scheduler.js';
import type { Issuer } from './issuer.js';
import { eachPerTarget } from './per-target.js';
import type { Revoker } from './revoker.js';
import type { WorkflowDeps } from './workflow-deps.js';

const BATCH = 200;

export interface DueWorkParts {
  issuer: Issuer;
  expirer: Expirer;
  revoker: Revoker;
  scheduler: ExpiryScheduler;
}

/**
 * The grants' durable due work: everything due lives in the store, and each pass acts on it. It arms timers for
 * grants about to expire (including ones another server activated), expires overdue ones, retries pending
 * revocations with backoff, and resumes issuance left by a crashed server.
 */
export function createDueWork(
  deps: Pick<WorkflowDeps, 'store' | 'requests' | 'grants' | 'clock' | 'logger'>,
  parts: DueWorkParts,
) {
  const db = deps.store.db;

  /** Ends every grant already past its window and arms timers for those due within `lookaheadMs`. */
  async function expireDue(lookaheadMs: number, now = deps.clock()): Promise<void> {
    const soon = await deps.requests.dueExpiries(db, new Date(now.getTime() + lookaheadMs), BATCH * 10);
    const overdue = soon.filter((d) => d.expiresAt <= now.getTime());
    for (const { id, expiresAt } of soon) {
      if (expiresAt > now.getTime()) parts.scheduler.schedule(id, new Date(expiresAt));
    }
    // After a restart or a store outage many are overdue at once: recorded in batches, their revocations
    // queued per target together (one at a time, the last waited seconds).
    await parts.expirer.expireMany(overdue.map((d) => d.id));
  }

  /** One pass; stops between steps once `signal` aborts (what is left stays due in the store). */
  async function run(lookaheadMs: number, signal: AbortSignal): Promise<void> {
    const now = deps.clock();
    await expireDue(lookaheadMs, now);
    if (signal.aborted) return;
    await eachPerTarget(
      await deps.grants.dueRevocations(db, now, BATCH),
      (g) => g.resource,
      (g) => (signal.aborted ? Promise.resolve() : parts.revoker.revokeOnTarget(g.request_id)),
    );
    for (const id of await deps.requests.issuable(db, now, BATCH)) {
      if (signal.aborted) return;
      await parts.issuer
        .issue(id)
        .catch((err: unknown) => deps.logger.error({ requestId: id, err }, 'resumed issuance failed'));
    }
  }

  return { run, expireDue };
}

export type DueWork = ReturnType<typeof createDueWork>;
