import { createTokenStore } from '../auth/token-store.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { createIssuer } from '../grants/issuer.js';
import { createRevoker } from '../grants/revoker.js';
import { createExpirer } from '../jobs/expirer.js';
import { createExpiryScheduler } from '../jobs/expiry-scheduler.js';
import { createReconciler } from '../jobs/reconciler.js';
import { createSweeper } from '../jobs/sweeper.js';
import type { Logger } from '../logger.js';
import { createProviderSet, type ProviderFactory } from '../providers/provider-set.js';
import type { Clock, PolicySource, WorkflowDeps } from '../requests/context.js';
import { createRequestService } from '../requests/request-service.js';
import { createTransitionRunner } from '../requests/transition-runner.js';
import type { StintDatabase } from '../store/database.js';
import { createRequestStore } from '../store/request-store.js';

export interface StintOptions {
  store: StintDatabase;
  policy: PolicySource;
  providerFactory: ProviderFactory;
  secrets: SecretBox;
  clock?: Clock;
  logger: Logger;
  /** How often durable due work is swept; timers make expiry exact in between. */
  sweepIntervalMs?: number;
  reconcileIntervalMs?: number;
}

/** The composition root: every part built once, from the parts it needs. Tests build it with other parts. */
export function createStint(opts: StintOptions) {
  const clock = opts.clock ?? (() => new Date());
  const providers = createProviderSet(opts.providerFactory);
  const deps: WorkflowDeps = {
    store: opts.store,
    requests: createRequestStore(opts.store.dialect),
    policy: opts.policy,
    providers,
    secrets: opts.secrets,
    clock,
    logger: opts.logger,
  };
  const run = createTransitionRunner(deps);
  const revoker = createRevoker(deps);
  const expireGrant = createExpirer(deps, run, revoker);
  const scheduler = createExpiryScheduler(clock, (id) => void expireGrant(id));
  const issue = createIssuer(deps, run, (id, expiresAt) => scheduler.schedule(id, expiresAt));
  const service = createRequestService({
    ...deps,
    run,
    issue,
    revoker,
    onEnded: (id) => scheduler.cancel(id),
  });
  const sweeper = createSweeper(deps, { run, issue, expireGrant, revoker, scheduler });
  const reconcile = createReconciler(deps, revoker);
  const tokens = createTokenStore(opts.store.db);

  const sweepMs = opts.sweepIntervalMs ?? 500;
  const reconcileMs = opts.reconcileIntervalMs ?? 60_000;
  const intervals: NodeJS.Timeout[] = [];
  let sweeping: Promise<void> | null = null;

  const sweepOnce = (): Promise<void> => {
    sweeping ??= sweeper
      .sweep(sweepMs * 4)
      .catch((err: unknown) => opts.logger.error({ err }, 'sweep failed'))
      .finally(() => {
        sweeping = null;
      });
    return sweeping;
  };

  return {
    service,
    tokens,
    deps,
    scheduler,
    sweep: sweepOnce,
    reconcile,
    /** Start-up order: clean targets first, then resume everything due, then keep sweeping. */
    async start(): Promise<void> {
      // The embedded store serves one process, so a claim found at start was left by a crash of this server.
      if (opts.store.dialect === 'sqlite') await deps.requests.releaseClaims(opts.store.db);
      await reconcile();
      await sweepOnce();
      intervals.push(setInterval(() => void sweepOnce(), sweepMs));
      intervals.push(setInterval(() => void reconcile().catch(() => {}), reconcileMs));
      for (const i of intervals) i.unref();
    },
    async stop(): Promise<void> {
      for (const i of intervals.splice(0)) clearInterval(i);
      scheduler.stop();
      await sweeping;
      await revoker.idle();
      await providers.closeAll();
    },
  };
}

export type Stint = ReturnType<typeof createStint>;
