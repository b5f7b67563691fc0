import type { TransitionRunner } from '../audit/transition-runner.js';
import { createExpirer } from './expirer.js';
import { createExpiryScheduler } from './expiry-scheduler.js';
import { createIssuer } from './issuer.js';
import { createOverdueMetrics, type OverdueMetrics, overdueChecks } from './overdue.js';
import { createRevoker } from './revoker.js';
import type { WorkflowDeps } from './workflow-deps.js';

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
}

/**
 * Access on the targets: the issuer turns approved requests into live credentials, the revoker removes them,
 * and expiry ends each grant at its instant (a timer per grant; the sweeper is the durable fallback).
 */
export function createGrantsModule(deps: GrantsModuleDeps) {
  const metrics = createOverdueMetrics();
  const revoker = createRevoker(deps, metrics);
  const expireGrant = createExpirer(deps, deps.run, revoker, metrics, deps.lateExpiryMs);
  const scheduler = createExpiryScheduler(deps.clock, (id) => void expireGrant(id));
  const issuer = createIssuer(
    deps,
    deps.run,
    (id, expiresAt) => scheduler.schedule(id, expiresAt),
    deps.assertAuditWritable,
  );
  return {
    issuer,
    revoker,
    expireGrant,
    scheduler,
    /** Overdue revocations and expiries, alerted once each: counts for an operations module to publish. */
    metrics: (): OverdueMetrics => ({ ...metrics }),
    /** What /readyz names as degraded (it still answers 200): revocations and expiries overdue. */
    degraded: overdueChecks(deps, deps.lateExpiryMs),
    jobs: [
      {
        async start() {},
        /** Issuances and revocations already started are let finish, then the expiry timers go. */
        async stop() {
          await issuer.idle();
          scheduler.stop();
          await revoker.idle();
        },
      },
    ],
  };
}

export type GrantsModule = ReturnType<typeof createGrantsModule>;
