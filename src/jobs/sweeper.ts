import type { TransitionRunner } from '../audit/transition-runner.js';
import { isStintError } from '../domain/errors.js';
import { timeOut } from '../domain/state-machine.js';
import type { Expirer } from '../grants/expirer.js';
import type { ExpiryScheduler } from '../grants/expiry-scheduler.js';
import type { Issuer } from '../grants/issuer.js';
import type { Revoker } from '../grants/revoker.js';
import type { WorkflowDeps } from '../grants/workflow-deps.js';
import { eachPerTarget } from './per-target.js';

const BATCH = 200;

export interface SweeperParts {
  run: TransitionRunner;
  issue: Issuer;
  expireGrant: Expirer;
  revoker: Revoker;
  scheduler: ExpiryScheduler;
}

/**
 * The durable side of the jobs: everything due lives in the store, and each sweep acts on it. It arms timers for
 * grants about to expire (including ones another server activated), expires overdue ones, times out unapproved
 * requests, retries pending revocations with backoff, and resumes issuance left by a crashed server.
 */
export function createSweeper(
  deps: Pick<WorkflowDeps, 'store' | 'requests' | 'grants' | 'clock' | 'logger'>,
  parts: SweeperParts,
) {
  const db = deps.store.db;

  /** Ends every grant already past its window and arms timers for those due within `lookaheadMs`. */
  async function expireDue(lookaheadMs: number, now = deps.clock()): Promise<void> {
    const soon = await deps.requests.dueExpiries(db, new Date(now.getTime() + lookaheadMs), BATCH * 10);
    const overdue = soon.filter((d) => d.expiresAt <= now.getTime());
    for (const { id, expiresAt } of soon) {
      if (expiresAt > now.getTime()) parts.scheduler.schedule(id, new Date(expiresAt));
    }
    // After a restart or a store outage many are overdue at once: one at a time, the last waited seconds.
    await eachPerTarget(
      overdue,
      (d) => d.resource,
      (d) => parts.expireGrant(d.id),
    );
  }

  async function sweep(lookaheadMs: number): Promise<void> {
    const now = deps.clock();
    await expireDue(lookaheadMs, now);

    for (const id of await deps.requests.duePending(db, now, BATCH)) {
      try {
        await parts.run(id, now, (r) => timeOut(r, now));
      } catch (e) {
        if (!isStintError(e)) throw e;
      }
    }

    await eachPerTarget(
      await deps.grants.dueRevocations(db, now, BATCH),
      (g) => g.resource,
      (g) => parts.revoker.revokeOnTarget(g.request_id),
    );

    for (const id of await deps.requests.issuable(db, now, BATCH)) {
      await parts.issue
        .issue(id)
        .catch((err: unknown) => deps.logger.error({ requestId: id, err }, 'resumed issuance failed'));
    }
  }

  return { sweep, expireDue };
}

export type Sweeper = ReturnType<typeof createSweeper>;
