import { setTimeout as sleep } from 'node:timers/promises';
import type { TransitionRunner } from '../audit/transition-runner.js';
import { isStintError, StintError } from '../domain/errors.js';
import type { AccessRequest } from '../domain/request.js';
import { activate, fail } from '../domain/state-machine.js';
import { type CredentialProvider, NO_CANCEL } from '../providers/provider.js';
import type { GrantRow } from '../store/grant-store.js';
import { IssueClaimLost } from '../store/request-store.js';
import { CLAIM_MS } from './claim.js';
import { type HeldClaim, renewWhileIssuing } from './claim-renewal.js';
import { describeError } from './revoker.js';
import type { WorkflowDeps } from './workflow-deps.js';

/** Background tries to remove an unrecorded credential after the first failed: 0.25 s doubling, about 30 s in all. */
const UNDO_RETRIES = 7;
const UNDO_FIRST_DELAY_MS = 250;
/** The associated data `grants.kept_enc` is sealed under: bound to the request, apart from `credential_enc`. */
export const keptAad = (requestId: string): string => `${requestId}#kept`;

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
  /** Aborts when this server stops and will not wait longer: target calls in flight are cut. */
  shutdown: () => AbortSignal = () => NO_CANCEL,
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
   * transaction, or by `issue`, which passes the claim's instant). Returns where it ended: active with its
   * grant, failed, or left approved when another server took the claim over.
   */
  async function issueClaimed(request: AccessRequest, claimedUntil?: number): Promise<Issued> {
    assertAuditWritable();
    const id = request.id;
    const held = claimedUntil ?? (await deps.requests.issueClaim(db, id));
    if (held === null) return { request: await deps.requests.mustGet(db, id), grant: undefined };
    const claim = renewWhileIssuing(deps, db, id, held);
    try {
      return await issueHeld(request, claim);
    } finally {
      await claim.stop();
    }
  }

  async function issueHeld(request: AccessRequest, claim: HeldClaim): Promise<Issued> {
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
        shutdown(),
      );
    } catch (e) {
      if (shutdown().aborted) {
        // As if this server had crashed here: the request stays approved under this server's claim, which
        // lapses (or is released at the next start on SQLite) so issuance resumes; the reconciler removes
        // whatever the cut call may have left on the target.
        deps.logger.warn({ requestId: id }, 'issuance cut by shutdown; it resumes once the claim lapses');
        return { request, grant: undefined };
      }
      deps.logger.warn({ requestId: id, err: e }, 'credential issuance failed');
      return failRequest(request, `issuing the credential failed: ${describeError(e)}`);
    }

    const sealed = deps.secrets.seal(JSON.stringify(issued.secret), id);
    await claim.stop();
    // Its own associated data: a kept value copied into credential_enc does not open there (nor the reverse).
    const kept = issued.kept ? deps.secrets.seal(JSON.stringify(issued.kept), keptAad(id)) : undefined;
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
            ...(kept ? { kept } : {}),
            now: activatedAt,
          });
        },
        // The fence, in the activating UPDATE: only the server holding the claim activates. One that stalled
        // past its claim leaves the target to the server that took over (the principal is the request's:
        // undoing here would remove that server's credential); the reconciler removes what this one made if it
        // is not the one kept.
        { claim: () => ({ release: claim.held() }) },
      );
      result = { request: transition.request, grant };
    } catch (e) {
      if (e instanceof IssueClaimLost) {
        deps.logger.warn({ requestId: id }, 'issuance taken over by another server; this result is dropped');
        return { request: await deps.requests.mustGet(db, id), grant: undefined };
      }
      // Withdrawn or revoked while we issued, or the store failed: nothing may be left on the target.
      await undo(provider, issued.principal, id);
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

  /**
   * Removes a credential the store never recorded. The first try is awaited; if it fails (a busy or unreachable
   * target), tries go on in the background with backoff until one succeeds or the server stops, so a burst does
   * not leave thousands of them for the reconciler's slower pass (which still catches what is left).
   */
  async function undo(provider: CredentialProvider, principal: string, requestId: string): Promise<void> {
    const once = (signal: AbortSignal) => provider.revoke({ principal }, signal).then(() => true);
    if (await once(NO_CANCEL).catch(() => false)) return;
    const retries = (async () => {
      for (let attempt = 0; attempt < UNDO_RETRIES; attempt++) {
        // A stopping server stops retrying once its grace is over: the reconciler finishes the job.
        const slept = await sleep(UNDO_FIRST_DELAY_MS * 2 ** attempt, true, { signal: shutdown() }).catch(
          () => false,
        );
        if (!slept) break;
        if (await once(shutdown()).catch(() => false)) return;
      }
      deps.logger.error(
        { requestId, principal },
        'undoing an unrecorded credential failed; the reconciler will remove it',
      );
    })().finally(() => started.delete(retries));
    started.add(retries);
  }

  return {
    issueClaimed,
    /**
     * Issues in the background, right after the approval that took the claim committed: the approver is not
     * kept waiting on the target. A failure here is the sweeper's to retry once the claim lapses.
     */
    start(request: AccessRequest, claimedUntil?: number): Promise<void> {
      // Refused to the caller at once while the trail is broken: the approval stays committed, and the sweeper
      // issues it once the trail is whole again.
      assertAuditWritable();
      const p = issueClaimed(request, claimedUntil)
        .catch((err: unknown) =>
          deps.logger.error(
            { requestId: request.id, err },
            'issuance after approval failed; the sweeper retries',
          ),
        )
        .then(() => undefined)
        .finally(() => started.delete(p));
      started.add(p);
      return p;
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
      const now = deps.clock();
      if (!(await deps.requests.claimIssue(db, id, now, CLAIM_MS))) return null;
      return issueClaimed(await deps.requests.mustGet(db, id), now.getTime() + CLAIM_MS);
    },
  };
}

export type Issuer = ReturnType<typeof createIssuer>;
