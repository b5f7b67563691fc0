import type { Transaction } from 'kysely';
import type { BatchTransitionRunner, TransitionRunner } from '../audit/transition-runner.js';
import { isStintError } from '../domain/errors.js';
import type { AccessRequest } from '../domain/request.js';
import { expire, SYSTEM_ACTOR } from '../domain/state-machine.js';
import type { Database } from '../store/schema.js';
import { LATE_EXPIRY_MS, type OverdueMetrics } from './overdue.js';
import type { Revoker } from './revoker.js';
import type { WorkflowDeps } from './workflow-deps.js';

/** Expiries recorded in one transaction at most. */
const EXPIRY_BATCH = 200;

/**
 * Ends active grants at their expiry instant: the request becomes `expired` and its grant "revocation pending"
 * in one transaction, then the credential is removed from the target at once. An expiry recorded seconds late
 * (the store was out, no server was running) is alerted in the same transaction: access outlived its window.
 * Expiries due together (a burst, a backlog at start) are recorded together, one transaction per batch, and
 * their revocations go to the target together (its queue batches them further).
 */
export function createExpirer(
  deps: Pick<WorkflowDeps, 'grants' | 'audit' | 'clock' | 'logger'>,
  run: TransitionRunner,
  runMany: BatchTransitionRunner,
  revoker: Revoker,
  metrics: OverdueMetrics,
  lateExpiryMs = LATE_EXPIRY_MS,
) {
  const running = new Set<string>();
  /** Due while the store could not record it: logged once per grant, not at every attempt. */
  const delayed = new Set<string>();

  /** In the expiring transaction: revocation pending, and the alert when the expiry comes late. */
  async function recordEnd(trx: Transaction<Database>, id: string, before: AccessRequest, now: Date) {
    await deps.grants.markRevocationPending(trx, id, now);
    return alertIfLate(trx, id, before, now);
  }

  /** The alert of an expiry recorded late, in its transaction; answers how late (0 when on time). */
  async function alertIfLate(trx: Transaction<Database>, id: string, before: AccessRequest, now: Date) {
    const lateMs = before.expiresAt ? now.getTime() - before.expiresAt.getTime() : 0;
    if (lateMs < lateExpiryMs) return 0;
    await deps.audit.append(trx, {
      at: now,
      actor: SYSTEM_ACTOR,
      action: 'grant.expired_late',
      requestId: id,
      target: { resource: before.resource, role: before.role },
      details: { expiresAt: before.expiresAt?.toISOString(), lateMs, alert: true },
    });
    return lateMs;
  }

  function recorded(id: string, lateMs: number): void {
    delayed.delete(id);
    if (lateMs >= lateExpiryMs) {
      metrics.expiriesLate += 1;
      deps.logger.error({ requestId: id, lateMs }, 'grant expired late: access outlived its window');
    }
  }

  function failed(id: string, e: unknown): void {
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
  }

  /** Already ended (revoked meanwhile, or another server expired it): nothing to do here. */
  const alreadyEnded = (e: unknown) =>
    isStintError(e) && (e.code === 'INVALID_TRANSITION' || e.code === 'CONCURRENT_UPDATE');

  async function expireGrant(id: string): Promise<void> {
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
            lateMs = await recordEnd(trx, id, before, now);
          },
        );
        recorded(id, lateMs);
      } catch (e) {
        if (alreadyEnded(e)) return;
        throw e;
      }
      await revoker.revokeOnTarget(id);
    } catch (e) {
      failed(id, e);
    } finally {
      running.delete(id);
    }
  }

  async function expireBatch(ids: readonly string[]): Promise<void> {
    const mine = ids.filter((id) => !running.has(id));
    for (const id of mine) running.add(id);
    const ended: string[] = [];
    try {
      const now = deps.clock();
      const lateness = new Map<string, number>();
      let results: Awaited<ReturnType<BatchTransitionRunner>>;
      try {
        results = await runMany(
          mine.map((id) => ({
            id,
            decide: (r) => expire(r, now),
            after: async (trx, _t, before) => {
              lateness.set(id, await alertIfLate(trx, id, before, now));
            },
          })),
          now,
          // Every grant of the batch revocation pending in one statement, not one each.
          (trx, expired) => deps.grants.markRevocationsPending(trx, expired, now),
        );
      } catch {
        // The batch as a whole failed (a store error, one request gone): each on its own, as before.
        for (const id of mine) running.delete(id);
        mine.length = 0;
        await Promise.all(ids.map((id) => expireGrant(id)));
        return;
      }
      for (const [id, result] of results) {
        if (result instanceof Error) {
          if (!alreadyEnded(result)) failed(id, result);
          continue;
        }
        recorded(id, lateness.get(id) ?? 0);
        ended.push(id);
      }
      await Promise.all(ended.map((id) => revoker.revokeOnTarget(id).catch((e: unknown) => failed(id, e))));
    } finally {
      for (const id of mine) running.delete(id);
    }
  }

  return {
    expireGrant,
    /** Expires every grant of `ids` that is due, EXPIRY_BATCH to a transaction. */
    async expireMany(ids: readonly string[]): Promise<void> {
      if (ids.length === 1) return expireGrant(ids[0] as string);
      const batches: Promise<void>[] = [];
      for (let i = 0; i < ids.length; i += EXPIRY_BATCH)
        batches.push(expireBatch(ids.slice(i, i + EXPIRY_BATCH)));
      await Promise.all(batches);
    },
  };
}

export type Expirer = ReturnType<typeof createExpirer>;
