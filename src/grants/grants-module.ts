import { createBatchTransitionRunner, type TransitionRunner } from '../audit/transition-runner.js';
import type { Job, MetricSource, StintModule } from '../module.js';
import { createDueWork } from './due-work.js';
import { createExpirer } from './expirer.js';
import { createExpiryScheduler } from './expiry-scheduler.js';
import { grantMetrics } from './grant-metrics.js';
import { createIssuer } from './issuer.js';
import { createOverdueMetrics, type OverdueMetrics, overdueChecks } from './overdue.js';
import { createReconciler } from './reconciler.js';
import { createRevoker } from './revoker.js';
import type { WorkflowDeps } from './workflow-deps.js';

/** How long stopping waits for target calls in flight before cutting them. */
const STOP_GRACE_MS = 5_000;

export interface GrantsModuleDeps
  extends Pick<
    WorkflowDeps,
    'store' | 'requests' | 'grants' | 'audit' | 'policy' | 'providers' | 'secrets' | 'clock' | 'logger'
  > {
  run: TransitionRunner;
  /** Throws while the audit trail is broken: no access is granted whose events could never be signed. */
  assertAuditWritable(): void;
  /** How late an expiry may be recorded before it is alerted (default LATE_EXPIRY_MS). */
  lateExpiryMs?: number;
  /** The sweep loop's tick: timers are armed for grants expiring within four of them. */
  sweepIntervalMs?: number;
  /** How often every target is compared with the store (default a minute). */
  reconcileIntervalMs?: number;
}

/**
 * Access on the targets: the issuer turns approved requests into live credentials, the revoker removes them,
 * expiry ends each grant at its instant (a timer per grant; the due-work sweep is the durable fallback), and
 * the reconciler compares each target with the store.
 */
export function createGrantsModule(deps: GrantsModuleDeps) {
  const { store, logger } = deps;
  const counts = createOverdueMetrics();
  // Cut after STOP_GRACE_MS of stopping: a target that hangs does not hold the shutdown (drain) forever.
  let shutdown = new AbortController();
  const signal = () => shutdown.signal;
  const revoker = createRevoker(deps, counts, signal);
  const expirer = createExpirer(
    deps,
    deps.run,
    createBatchTransitionRunner(deps),
    revoker,
    counts,
    deps.lateExpiryMs,
  );
  const expireGrant = expirer.expireGrant;
  // Timers that fire in the same turn (grants approved for the same end) are expired together.
  let due: string[] = [];
  const scheduler = createExpiryScheduler(deps.clock, (id) => {
    due.push(id);
    if (due.length > 1) return;
    setImmediate(() => {
      const batch = due;
      due = [];
      void expirer.expireMany(batch);
    });
  });
  const issuer = createIssuer(
    deps,
    deps.run,
    (id, expiresAt) => scheduler.schedule(id, expiresAt),
    deps.assertAuditWritable,
    signal,
  );
  const dueWork = createDueWork(deps, { issuer, expirer, revoker, scheduler });
  const reconcile = createReconciler(deps, revoker, deps.run);
  const lookaheadMs = (deps.sweepIntervalMs ?? 500) * 4;

  const job: Job = {
    /**
     * End access that is already overdue before anything else, then make sure no other store shares this
     * deployment's name on a target. Overdue grants come first because reconciling waits on every target, down
     * ones included; the sweep loop reconciles and resumes the rest once every module has started.
     */
    async start() {
      shutdown = new AbortController();
      // The embedded store serves one process, so a claim found at start was left by a crash of this server.
      if (store.traits.singleWriter) await deps.requests.releaseClaims(store.db);
      await dueWork
        .expireDue(0)
        .catch((err: unknown) => logger.error({ err }, 'expiring overdue grants at start failed'));
      await reconcile.checkOwnership();
    },
    /**
     * Issuances and revocations already started are let finish, for STOP_GRACE_MS at most: then their target
     * calls are cut and what they left stays due in the store (a cut issuance resumes as after a crash, a cut
     * revocation stays pending). The expiry timers go.
     */
    async stop() {
      const cut = setTimeout(() => shutdown.abort(), STOP_GRACE_MS);
      try {
        await issuer.idle();
        scheduler.stop();
        await revoker.idle();
      } finally {
        clearTimeout(cut);
        shutdown.abort();
      }
    },
  };

  const module: StintModule = {
    name: 'grants',
    jobs: [job],
    // Reconciling first: at start it runs before issuance left by a crash is resumed, as it always has.
    sweeps: [
      { name: 'grants.reconcile', everyMs: deps.reconcileIntervalMs ?? 60_000, run: (s) => reconcile(s) },
      { name: 'grants.due', run: (signal) => dueWork.run(lookaheadMs, signal) },
    ],
    /** What /readyz names as degraded (it still answers 200): revocations and expiries overdue. */
    degraded: overdueChecks(deps, deps.lateExpiryMs),
    metrics: [...overdueMetrics(() => counts), ...grantMetrics(store)],
  };

  return {
    issuer,
    revoker,
    expireGrant,
    scheduler,
    reconcile,
    /** Overdue revocations and expiries, alerted once each: counts for an operations module to publish. */
    metrics: (): OverdueMetrics => ({ ...counts }),
    module,
  };
}

function overdueMetrics(read: () => OverdueMetrics): MetricSource[] {
  const counter = (name: string, help: string, pick: (m: OverdueMetrics) => number): MetricSource => ({
    name,
    help,
    type: 'counter',
    collect: () => [{ value: pick(read()) }],
  });
  return [
    counter(
      'stint_grants_revocations_overdue_total',
      'Revocations alerted overdue (their first failure), once each',
      (m) => m.revocationsAlerted,
    ),
    counter(
      'stint_grants_revocations_overdue_cleared_total',
      'Overdue revocations later completed',
      (m) => m.revocationsCleared,
    ),
    counter(
      'stint_grants_expiries_late_total',
      'Expiries recorded later than the late-expiry bound',
      (m) => m.expiriesLate,
    ),
  ];
}

export type GrantsModule = ReturnType<typeof createGrantsModule>;
