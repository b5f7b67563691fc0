import type { TransitionRunner } from '../audit/transition-runner.js';
import { isStintError, StintError } from '../domain/errors.js';
import type { AccessRequest } from '../domain/request.js';
import { activate, fail } from '../domain/state-machine.js';
import { type CredentialProvider, NO_CANCEL } from '../providers/provider.js';
import type { GrantRow } from '../store/grant-store.js';
import { CLAIM_MS } from './claim.js';
import { describeError } from './revoker.js';
import type { WorkflowDeps } from './workflow-deps.js';

/** What an issuance ended in: the request as stored afterwards, and its grant when it became active. */
export interface Issued {
  request: AccessRequest;
  grant: GrantRow | undefined;
}

/**
 * Turns an approved request into a live credential. Driven by committed state (the outbox): approval commits
 * first, then this runs after commit, and a crash in between is picked up again from the `approved` state.
 */
export function createIssuer(
  deps: Pick<
    WorkflowDeps,
    'store' | 'requests' | 'grants' | 'policy' | 'providers' | 'secrets' | 'clock' | 'logger'
  >,
  run: TransitionRunner,
  onActivated: (requestId: string, expiresAt: Date) => void,
  /** Throws while the audit trail is broken: no access is granted whose events could never be signed. */
  assertAuditWritable: () => void = () => {},
) {
  const db = deps.store.db;

  async function failRequest(request: AccessRequest, reason: string): Promise<Issued> {
    const now = deps.clock();
    try {
      const { transition } = await run(request.id, now, (r) => fail(r, reason, now));
      return { request: transition.request, grant: undefined };
    } catch (e) {
      if (!isStintError(e) || e.code !== 'INVALID_TRANSITION') throw e;
      return { request: await deps.requests.mustGet(db, request.id), grant: undefined };
    }
  }

  /**
   * Issues an approved request whose issuance this server holds the claim of (taken in the approving
   * transaction, or by `issue`). Returns where it ended: active with its grant, or failed.
   */
  async function issueClaimed(request: AccessRequest): Promise<Issued> {
    assertAuditWritable();
    const id = request.id;
    const resource = deps.policy.current().resources.get(request.resource);
    const roleDef = resource?.roles[request.role];
    if (!resource || !roleDef) {
      return failRequest(request, `${request.resource}/${request.role} is no longer in the policy`);
    }

    let provider: CredentialProvider;
    let issued: Awaited<ReturnType<CredentialProvider['issue']>>;
    // The window starts now, at activation; the target enforces the same instant (VALID UNTIL).
    const activatedAt = deps.clock();
    const expiresAt = new Date(activatedAt.getTime() + request.durationSeconds * 1000);
    try {
      provider = deps.providers.get(resource);
      issued = await provider.issue(
        {
          requestId: id,
          requester: request.requester,
          role: request.role,
          grants: roleDef.grants,
          expiresAt,
        },
        NO_CANCEL,
      );
    } catch (e) {
      deps.logger.warn({ requestId: id, err: e }, 'credential issuance failed');
      return failRequest(request, `issuing the credential failed: ${describeError(e)}`);
    }

    const sealed = deps.secrets.seal(JSON.stringify(issued.secret), id);
    let result: Issued;
    try {
      let grant: GrantRow | undefined;
      const { transition } = await run(
        id,
        activatedAt,
        (r) => activate(r, activatedAt),
        async (trx) => {
          grant = await deps.grants.insert(trx, {
            requestId: id,
            resource: resource.id,
            principal: issued.principal,
            sealed,
            now: activatedAt,
          });
        },
      );
      result = { request: transition.request, grant };
    } catch (e) {
      // Withdrawn or revoked while we issued, or the store failed: nothing may be left on the target.
      await provider.revoke({ principal: issued.principal }, NO_CANCEL).catch((err: unknown) => {
        deps.logger.error(
          { requestId: id, err },
          'undoing an unrecorded credential failed; the reconciler will remove it',
        );
      });
      if (isStintError(e) && e.code === 'INVALID_TRANSITION') {
        return { request: await deps.requests.mustGet(db, id), grant: undefined };
      }
      deps.logger.error({ requestId: id, err: e }, 'recording the issued credential failed');
      await failRequest(request, 'recording the credential failed').catch(() => {});
      throw e instanceof StintError ? e : new StintError('INTERNAL', 'recording the credential failed');
    }
    onActivated(id, expiresAt);
    return result;
  }

  const started = new Set<Promise<unknown>>();

  return {
    issueClaimed,
    /**
     * Issues in the background, right after the approval that took the claim committed: the approver is not
     * kept waiting on the target. A failure here is the sweeper's to retry once the claim lapses.
     */
    start(request: AccessRequest): void {
      // Refused to the caller at once while the trail is broken: the approval stays committed, and the sweeper
      // issues it once the trail is whole again.
      assertAuditWritable();
      const p = issueClaimed(request)
        .catch((err: unknown) =>
          deps.logger.error(
            { requestId: request.id, err },
            'issuance after approval failed; the sweeper retries',
          ),
        )
        .finally(() => started.delete(p));
      started.add(p);
    },
    /** Resolves once every issuance started here has ended (shutdown waits for them). */
    async idle(): Promise<void> {
      await Promise.allSettled([...started]);
    },
    /** Issues an approved request nobody holds (the sweeper's way in): claims it first, or leaves it. */
    async issue(id: string): Promise<Issued | null> {
      // Left approved while the trail is broken; the sweeper picks it up once it is fixed.
      try {
        assertAuditWritable();
      } catch {
        return null;
      }
      if (!(await deps.requests.claimIssue(db, id, deps.clock(), CLAIM_MS))) return null;
      return issueClaimed(await deps.requests.mustGet(db, id));
    },
  };
}

export type Issuer = ReturnType<typeof createIssuer>;
