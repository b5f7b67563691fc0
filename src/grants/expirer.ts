import { isStintError } from '../domain/errors.js';
import { expire } from '../domain/state-machine.js';
import type { WorkflowDeps } from '../requests/context.js';
import type { TransitionRunner } from '../requests/transition-runner.js';
import type { Revoker } from './revoker.js';

/**
 * Ends an active grant at its expiry instant: the request becomes `expired` and its grant "revocation pending"
 * in one transaction, then the credential is removed from the target at once.
 */
export function createExpirer(
  deps: Pick<WorkflowDeps, 'grants' | 'clock' | 'logger'>,
  run: TransitionRunner,
  revoker: Revoker,
) {
  const running = new Set<string>();

  return async function expireGrant(id: string): Promise<void> {
    if (running.has(id)) return;
    running.add(id);
    try {
      const now = deps.clock();
      try {
        await run(
          id,
          now,
          (r) => expire(r, now),
          async (trx) => deps.grants.markRevocationPending(trx, id, now),
        );
      } catch (e) {
        // Already ended (revoked meanwhile, or another server expired it): nothing to do here.
        if (isStintError(e) && (e.code === 'INVALID_TRANSITION' || e.code === 'CONCURRENT_UPDATE')) return;
        throw e;
      }
      await revoker.revokeOnTarget(id);
    } catch (e) {
      deps.logger.error({ requestId: id, err: e }, 'expiring a grant failed; the sweeper will retry');
    } finally {
      running.delete(id);
    }
  };
}

export type Expirer = ReturnType<typeof createExpirer>;
