import type { TransitionRunner } from '../audit/transition-runner.js';
import type { Expirer } from '../grants/expirer.js';
import type { ExpiryScheduler } from '../grants/expiry-scheduler.js';
import type { Issuer } from '../grants/issuer.js';
import type { Revoker } from '../grants/revoker.js';
import type { WorkflowDeps } from '../grants/workflow-deps.js';
import type { Job } from '../module.js';
import { createReconciler } from './reconciler.js';
import { createSweeper } from './sweeper.js';

export interface JobsModuleDeps
  extends Pick<
    WorkflowDeps,
    'store' | 'requests' | 'grants' | 'audit' | 'policy' | 'providers' | 'clock' | 'logger'
  > {
  run: TransitionRunner;
  issuer: Issuer;
  revoker: Revoker;
  expireGrant: Expirer;
  scheduler: ExpiryScheduler;
  /** How often durable due work is swept; timers make expiry exact in between. */
  sweepIntervalMs?: number;
  reconcileIntervalMs?: number;
}

/**
 * The durable background work: the sweeper (expiries, time-outs, revocation retries, issuance left behind) and
 * the reconciler (targets against the store). Started after every other module, stopped before them.
 */
export function createJobsModule(deps: JobsModuleDeps) {
  const { store, logger } = deps;
  const sweeper = createSweeper(deps, {
    run: deps.run,
    issue: deps.issuer,
    expireGrant: deps.expireGrant,
    revoker: deps.revoker,
    scheduler: deps.scheduler,
  });
  const reconcile = createReconciler(deps, deps.revoker, deps.run);
  const sweepMs = deps.sweepIntervalMs ?? 500;
  const reconcileMs = deps.reconcileIntervalMs ?? 60_000;
  const intervals: NodeJS.Timeout[] = [];
  let sweeping: Promise<void> | null = null;
  let stopWatchingStore = () => {};

  const sweep = (): Promise<void> => {
    // During a store outage the sweep would only fail, once per tick: it waits for the store's return.
    if (!store.health.available()) return Promise.resolve();
    sweeping ??= sweeper
      .sweep(sweepMs * 4)
      .catch((err: unknown) => logger.error({ err }, 'sweep failed'))
      .finally(() => {
        sweeping = null;
      });
    return sweeping;
  };

  const job: Job = {
    /**
     * End access that is already overdue, clean targets, resume everything else due, then keep sweeping.
     * Overdue grants come first because reconciling waits on every target, down ones included.
     */
    async start() {
      // The embedded store serves one process, so a claim found at start was left by a crash of this server.
      if (store.dialect === 'sqlite') await deps.requests.releaseClaims(store.db);
      await sweeper
        .expireDue(0)
        .catch((err: unknown) => logger.error({ err }, 'expiring overdue grants at start failed'));
      // Before touching any target: a second store under the same deployment name stops the start.
      await reconcile.checkOwnership();
      await reconcile();
      await sweep();
      stopWatchingStore = store.health.onChange((up) => {
        if (!up) {
          // The cause, when the store gave one (STORE_FULL: SQLITE_FULL, ENOSPC), is what the operator must fix.
          const problem = store.health.problem();
          if (problem) {
            logger.error(
              { code: problem.code, ...problem.details },
              `store unavailable: ${problem.message}; refusing work (${problem.code}) until it is fixed`,
            );
          } else {
            logger.error({}, 'store unavailable: refusing work (STORE_UNAVAILABLE) until it answers again');
          }
          return;
        }
        // Grants whose window ended during the outage are overdue now: end them at once, not at the next tick.
        logger.warn({}, 'store answers again: catching up on overdue work');
        void sweep();
      });
      intervals.push(setInterval(() => void sweep(), sweepMs));
      intervals.push(setInterval(() => void reconcile().catch(() => {}), reconcileMs));
      for (const i of intervals) i.unref();
    },
    async stop() {
      stopWatchingStore();
      for (const i of intervals.splice(0)) clearInterval(i);
      await sweeping;
    },
  };

  return { sweep, reconcile, jobs: [job] };
}

export type JobsModule = ReturnType<typeof createJobsModule>;
