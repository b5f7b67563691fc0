import type { TransitionRunner } from '../audit/transition-runner.js';
import { isStintError, StintError } from '../domain/errors.js';
import { SYSTEM_ACTOR, vanish } from '../domain/state-machine.js';
import type { Resource } from '../policy/policy-types.js';
import { type CredentialProvider, NO_CANCEL } from '../providers/provider.js';
import { liveGrants, ownershipSnapshot } from '../store/ownership-snapshot.js';
import { describeError, type Revoker } from './revoker.js';
import type { WorkflowDeps } from './workflow-deps.js';

export interface ReconcileReport {
  resource: string;
  owned: number;
  removed: string[];
  /** Requests whose live credential was found gone from the target, removed outside Stint. */
  vanished: string[];
  /** Roles another Stint store tagged with this deployment's name. */
  foreign: number;
  error: string | null;
  /** Why the resource was not compared: its kind cannot list what it issued (declared `listable: false`). */
  skipped?: string;
}

const NOT_LISTABLE =
  'its kind cannot list what it issued: credentials end at their own expiry, nothing is compared or marked vanished';

type Deps = Pick<
  WorkflowDeps,
  'store' | 'requests' | 'grants' | 'audit' | 'policy' | 'providers' | 'clock' | 'logger'
>;

/**
 * Compares what each target holds that this store created with what Stint believes is live, and removes the
 * rest: leftovers of crashes, of failed undo steps, or of hands that edited the target. Live means an active
 * grant, or an approved request whose issuance is in progress. The other way round, a live grant whose
 * credential is gone from the target was removed outside Stint: the request ends, audited and logged.
 */
export function createReconciler(deps: Deps, revoker: Revoker, run: TransitionRunner) {
  const db = deps.store.db;
  /** Foreign stores already reported, so a shared name is logged once per process, not every pass. */
  const reported = new Set<string>();

  async function reconcileResource(
    resource: Resource,
    report: ReconcileReport,
    signal: AbortSignal,
  ): Promise<void> {
    // A kind that cannot list (SSH certificates, cloud session tokens) has nothing to compare: absent from a
    // listing would otherwise read as vanished and end every live grant.
    if (!deps.providers.capabilities(resource).listable) {
      report.skipped = NOT_LISTABLE;
      return;
    }
    const provider = deps.providers.get(resource);
    // Read before the target: a grant live here had its role created before this read, so a role missing
    // from the listing after it was removed (or is being revoked, which the transition below re-checks).
    const live = await liveGrants(db, resource.id);
    const { principals: owned } = await provider.listOwned({}, signal);
    report.owned = owned.length;
    // Read after the target: a role listed there whose request is approved or active here is a live one.
    const snapshot = await ownershipSnapshot(
      db,
      owned.map((o) => o.requestId).filter((id): id is string => id !== null),
    );
    for (const o of owned) {
      const row = o.requestId ? snapshot.get(o.requestId) : undefined;
      // A role tagged before store ids is ours only if this store knows its request; another store's, never.
      if (o.claim === 'if-known' && row === undefined) continue;
      const grant = row?.grant?.principal === o.principal ? row.grant : null;
      if (grant?.revocation === 'pending' && o.requestId) {
        await revoker.revokeOnTarget(o.requestId);
        continue;
      }
      const state = row?.state;
      if ((grant?.revocation === 'none' && state === 'active') || (!grant && state === 'approved')) continue;
      await provider.revoke({ principal: o.principal }, signal);
      report.removed.push(o.principal);
      await deps.audit.append(db, {
        at: deps.clock(),
        actor: SYSTEM_ACTOR,
        action: 'reconciler.removed',
        requestId: o.requestId,
        details: { resource: resource.id, principal: o.principal, requestState: state ?? null },
      });
    }

    const listed = new Set(owned.map((o) => o.principal));
    for (const g of live) {
      if (listed.has(g.principal)) continue;
      // Not in the listing is not yet gone: a role whose tag someone edited still exists and still logs in.
      if (!(await provider.verifyRevoked({ principal: g.principal }, signal)).gone) continue;
      if (await markVanished(resource, g.requestId, g.principal)) report.vanished.push(g.requestId);
    }

    await reportForeign(resource, provider, report, signal);
  }

  async function markVanished(resource: Resource, requestId: string, principal: string): Promise<boolean> {
    const now = deps.clock();
    try {
      await run(
        requestId,
        now,
        (r) => vanish(r, now, { resource: resource.id, principal }),
        (trx) => deps.grants.markVanished(trx, requestId, now),
      );
    } catch (e) {
      // Ended meanwhile (expired, revoked, another server marked it): not ours to record.
      if (isStintError(e) && (e.code === 'INVALID_TRANSITION' || e.code === 'CONCURRENT_UPDATE'))
        return false;
      throw e;
    }
    deps.logger.error(
      { resource: resource.id, requestId, principal },
      'a live credential was removed from the target outside Stint; the request is ended',
    );
    // The revoker confirms nothing is left (no role, no session) and records the revocation done.
    await revoker.revokeOnTarget(requestId);
    return true;
  }

  async function reportForeign(
    resource: Resource,
    provider: CredentialProvider,
    report: ReconcileReport,
    signal: AbortSignal,
  ): Promise<void> {
    const { principals: foreign } = await provider.listForeign({}, signal);
    report.foreign = foreign.length;
    const settings = deps.policy.current().settings;
    for (const storeId of new Set(foreign.map((f) => f.storeId))) {
      const key = `${resource.id}\u0000${storeId}`;
      if (reported.has(key)) continue;
      reported.add(key);
      const fields = { resource: resource.id, deployment: settings.deployment, otherStore: storeId };
      if (settings.allowSharedDeploymentName) {
        deps.logger.info(fields, 'another Stint store shares this deployment name on the target (allowed)');
      } else {
        deps.logger.error(
          fields,
          'another Stint store uses this deployment name on the target; each touches only its own roles, but rename one deployment',
        );
      }
    }
  }

  /** One pass over every resource; a shutdown `signal` cuts the target calls in flight and ends the pass. */
  async function reconcile(signal: AbortSignal = NO_CANCEL): Promise<ReconcileReport[]> {
    const reports: ReconcileReport[] = [];
    for (const resource of deps.policy.current().resources.values()) {
      // Shutting down: the next pass, on this server or another, compares what is left.
      if (signal.aborted) break;
      const report: ReconcileReport = {
        resource: resource.id,
        owned: 0,
        removed: [],
        vanished: [],
        foreign: 0,
        error: null,
      };
      reports.push(report);
      try {
        await reconcileResource(resource, report, signal);
      } catch (e) {
        report.error = describeError(e);
        if (signal.aborted) break;
        deps.logger.warn({ resource: resource.id, err: e }, 'reconciliation failed for a resource');
      }
    }
    return reports;
  }

  /**
   * At start: refuses to run when a target already holds roles another store tagged with this deployment's
   * name, unless settings.allowSharedDeploymentName says it is meant. A target that cannot be reached is left
   * to the periodic reconciliation (which reports a foreign store it finds later).
   */
  async function checkOwnership(): Promise<void> {
    const settings = deps.policy.current().settings;
    if (settings.allowSharedDeploymentName) return;
    for (const resource of deps.policy.current().resources.values()) {
      if (!deps.providers.capabilities(resource).listable) continue;
      let foreign: Awaited<ReturnType<CredentialProvider['listForeign']>>['principals'];
      try {
        ({ principals: foreign } = await deps.providers.get(resource).listForeign({}, NO_CANCEL));
      } catch (e) {
        deps.logger.warn(
          { resource: resource.id, err: e },
          'cannot check the target for another store using this deployment name',
        );
        continue;
      }
      const first = foreign[0];
      if (first === undefined) continue;
      throw new StintError(
        'CONFIG_INVALID',
        `resource ${resource.id}: the target already holds ${foreign.length} role(s) that another Stint store (${first.storeId}) created under deployment name "${settings.deployment}" (e.g. ${first.principal}). Give this deployment its own settings.deployment, or set settings.allowSharedDeploymentName: true if both are meant to share the name (each store still touches only its own roles).`,
        { resource: resource.id, otherStore: first.storeId },
      );
    }
  }

  return Object.assign(reconcile, { checkOwnership });
}

export type Reconciler = ReturnType<typeof createReconciler>;
