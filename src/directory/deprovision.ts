import type { TransitionRunner } from '../audit/transition-runner.js';
import { isStintError } from '../domain/errors.js';
import type { AccessRequest } from '../domain/request.js';
import { revoke, SYSTEM_ACTOR } from '../domain/state-machine.js';
import type { Revoker } from '../grants/revoker.js';
import type { WorkflowDeps } from '../grants/workflow-deps.js';
import { grantStore } from '../store/grant-store.js';

/** Requests one removed person can hold at once; far above what any policy allows. */
const MAX_HELD = 500;
export const REMOVED_COMMENT = 'removed from the directory';

export interface DeprovisionDeps
  extends Pick<WorkflowDeps, 'store' | 'requests' | 'audit' | 'clock' | 'logger'> {
  run: TransitionRunner;
  revoker: Pick<Revoker, 'revokeOnTarget'>;
  /** Expiry timers are cancelled when access ends early (the scheduler's cancel). */
  onEnded(requestId: string): void;
}

/**
 * Ends the access of people who left the directory: the same path as a revoke by a person (state machine,
 * audit in the same transaction, then target clean-up retried by the sweeper until verified), with the actor
 * `stint`. Pending requests are left alone: nobody can approve on behalf of a removed person and they can no
 * longer authenticate to take a credential; they time out.
 */
export function createDeprovisioner(deps: DeprovisionDeps) {
  const db = deps.store.db;
  const inFlight = new Set<Promise<unknown>>();

  async function held(userId: string): Promise<AccessRequest[]> {
    const [approved, active] = await Promise.all([
      deps.requests.list(db, { requester: userId, state: 'approved', limit: MAX_HELD }),
      deps.requests.list(db, { requester: userId, state: 'active', limit: MAX_HELD }),
    ]);
    return [...approved, ...active];
  }

  /** Revokes every approved or active grant of `userId`; returns the request ids whose access ended here. */
  async function revokeGrantsOf(userId: string): Promise<string[]> {
    const now = deps.clock();
    const requests = await held(userId);
    // The cause is recorded before its effects, so the trail reads in order.
    await deps.audit.append(db, {
      at: now,
      actor: SYSTEM_ACTOR,
      action: 'directory.user_removed',
      requestId: null,
      details: { userId, requests: requests.map((r) => r.id) },
    });
    const ended: string[] = [];
    for (const r of requests) {
      try {
        const { before } = await deps.run(
          r.id,
          now,
          (current) => revoke(current, SYSTEM_ACTOR, REMOVED_COMMENT, now),
          async (trx, _t, before) => {
            if (before.state === 'active') await grantStore.markRevocationPending(trx, r.id, now);
          },
        );
        deps.onEnded(r.id);
        ended.push(r.id);
        // After commit; a failure here is retried by the sweeper (revocation stays pending).
        if (before.state === 'active') await deps.revoker.revokeOnTarget(r.id);
      } catch (err) {
        // Ended meanwhile (expired, revoked by someone): nothing left to do for this one.
        if (isStintError(err) && err.code === 'INVALID_TRANSITION') continue;
        deps.logger.error({ err, requestId: r.id, userId }, 'could not revoke a removed user’s grant');
      }
    }
    return ended;
  }

  return {
    revokeGrantsOf,

    /** For Directory's onRemoved: runs in the background; `idle()` waits for it (shutdown, tests). */
    handleRemoved(userIds: readonly string[]): void {
      for (const userId of userIds) {
        const p = revokeGrantsOf(userId)
          .catch((err: unknown) => deps.logger.error({ err, userId }, 'deprovisioning failed'))
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
    },

    /**
     * Catches removals that happened while no server was running (onRemoved only sees changes it witnesses):
     * revokes grants held by anyone `isMember` rejects. Call only when every directory source is healthy, or
     * an empty snapshot would revoke everyone.
     */
    async revokeOrphans(isMember: (userId: string) => boolean): Promise<string[]> {
      const [approved, active] = await Promise.all([
        deps.requests.list(db, { state: 'approved', limit: MAX_HELD }),
        deps.requests.list(db, { state: 'active', limit: MAX_HELD }),
      ]);
      const orphans = [...new Set([...approved, ...active].map((r) => r.requester))].filter(
        (u) => !isMember(u),
      );
      const ended: string[] = [];
      for (const userId of orphans) ended.push(...(await revokeGrantsOf(userId)));
      return ended;
    },

    async idle(): Promise<void> {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

export type Deprovisioner = ReturnType<typeof createDeprovisioner>;
