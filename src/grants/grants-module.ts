import type { WorkflowDeps } from '../requests/context.js';
import type { TransitionRunner } from '../requests/transition-runner.js';
import { createExpirer } from './expirer.js';
import { createExpiryScheduler } from './expiry-scheduler.js';
import { createIssuer } from './issuer.js';
import { createRevoker } from './revoker.js';

export interface GrantsModuleDeps
  extends Pick<
    WorkflowDeps,
    'store' | 'requests' | 'grants' | 'audit' | 'policy' | 'providers' | 'secrets' | 'clock' | 'logger'
  > {
  run: TransitionRunner;
  /** Throws while the audit trail is broken: no access is granted whose events could never be signed. */
  assertAuditWritable(): void;
}

/**
 * Access on the targets: the issuer turns approved requests into live credentials, the revoker removes them,
 * and expiry ends each grant at its instant (a timer per grant; the sweeper is the durable fallback).
 */
export function createGrantsModule(deps: GrantsModuleDeps) {
  const revoker = createRevoker(deps);
  const expireGrant = createExpirer(deps, deps.run, revoker);
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
