import { appendAudit } from '../audit/audit-store.js';
import { SYSTEM_ACTOR } from '../domain/state-machine.js';
import { describeError, type Revoker } from '../grants/revoker.js';
import type { WorkflowDeps } from '../requests/context.js';
import { grantStore } from '../store/grant-store.js';

export interface ReconcileReport {
  resource: string;
  owned: number;
  removed: string[];
  error: string | null;
}

/**
 * Compares what each target holds that Stint created with what Stint believes is live, and removes the rest:
 * leftovers of crashes, of failed undo steps, or of hands that edited the target. Live means an active grant,
 * or an approved request whose issuance is in progress.
 */
export function createReconciler(
  deps: Pick<WorkflowDeps, 'store' | 'requests' | 'policy' | 'providers' | 'clock' | 'logger'>,
  revoker: Revoker,
) {
  const db = deps.store.db;

  return async function reconcile(): Promise<ReconcileReport[]> {
    const reports: ReconcileReport[] = [];
    for (const resource of deps.policy.current().resources.values()) {
      const report: ReconcileReport = { resource: resource.id, owned: 0, removed: [], error: null };
      reports.push(report);
      try {
        const provider = deps.providers.get(resource);
        const owned = await provider.listOwned();
        report.owned = owned.length;
        const grants = await grantStore.byPrincipal(
          db,
          owned.map((o) => o.principal),
        );
        const requestIds = owned.map((o) => o.requestId).filter((id): id is string => id !== null);
        const states = await deps.requests.statesOf(db, requestIds);
        for (const o of owned) {
          const grant = grants.get(o.principal);
          if (grant && grant.revocation === 'pending') {
            await revoker.revokeOnTarget(grant.request_id);
            continue;
          }
          const state = o.requestId ? states.get(o.requestId) : undefined;
          const live =
            (grant?.revocation === 'none' && state === 'active') || (!grant && state === 'approved');
          if (live) continue;
          await provider.revoke(o.principal);
          report.removed.push(o.principal);
          await appendAudit(db, {
            at: deps.clock(),
            actor: SYSTEM_ACTOR,
            action: 'reconciler.removed',
            requestId: o.requestId,
            details: { resource: resource.id, principal: o.principal, requestState: state ?? null },
          });
        }
      } catch (e) {
        report.error = describeError(e);
        deps.logger.warn({ resource: resource.id, err: e }, 'reconciliation failed for a resource');
      }
    }
    return reports;
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;
