import { randomBytes } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { TransitionRunner } from '../audit/transition-runner.js';
import { authorize, can } from '../auth/authorize.js';
import type { Actor } from '../domain/actor.js';
import { isEligibleReviewer } from '../domain/approval.js';
import { StintError } from '../domain/errors.js';
import type { AccessRequest, ReviewDecision } from '../domain/request.js';
import { created, review, revoke, type Transition, withdraw } from '../domain/state-machine.js';
import { CLAIM_MS } from '../grants/claim.js';
import type { WorkflowDeps } from '../grants/workflow-deps.js';
import type { ChangeOptions } from '../idempotency/recorded-answer.js';
import { approvalStepUpReason } from '../mfa/approval-step-up.js';
import type { StepUp } from '../mfa/step-up.js';
import { evaluateRequest } from '../policy/policy-evaluator.js';
import type { GrantRow, GrantStore } from '../store/grant-store.js';
import type { ClaimChange, RequestStore } from '../store/request-store.js';
import type { Database } from '../store/schema.js';
import type { CredentialView, RequestService, RequestView } from './request-types.js';
import { toRequestView } from './request-view.js';
import { completeFromInput } from './take-input.js';

const MAX_LIST = 500;

export function newRequestId(): string {
  return `req_${randomBytes(8).toString('hex')}`;
}

export interface RequestServiceDeps
  extends Pick<
    WorkflowDeps,
    'store' | 'requests' | 'grants' | 'audit' | 'policy' | 'providers' | 'secrets' | 'clock'
  > {
  run: TransitionRunner;
  /**
   * Starts issuing an approved request whose claim this server took, without waiting for the target; the promise
   * settles (never rejects) when that issuance has ended, whatever its outcome.
   */
  issue: { start(r: AccessRequest, claimedUntil?: number): Promise<void> };
  /** Makes ended access end on the target too (the grants capability's revoker). */
  revoker: { revokeOnTarget(requestId: string): Promise<boolean> };
  /** Expiry timers are cancelled when access ends early. */
  onEnded(requestId: string): void;
  /** Fresh second factor for approving sensitive and critical access. */
  stepUp: Pick<StepUp, 'require'>;
  /**
   * Fields other capabilities add to a take's answer, shown once with it (the recording proxy's SSH login token).
   * Called in the take's transaction with the grant as the take left it; makes no call outside this process.
   */
  takeExtras?: (request: AccessRequest, grant: GrantRow) => Record<string, string>;
}

/** Another capability's fields after the kind's, never replacing one of them. */
function withExtras(secret: Record<string, string>, extras: Record<string, string> | undefined) {
  const added = Object.entries(extras ?? {}).filter(([k]) => !(k in secret));
  return { ...secret, ...Object.fromEntries(added) };
}

function grantExpired(id: string, expiresAt: Date): StintError {
  return new StintError(
    'GRANT_EXPIRED',
    `request ${id} expired at ${expiresAt.toISOString()}: its credential no longer exists`,
  );
}

/**
 * Why a take found nothing: shown before, or access ended after the request was read (an expiry or revoke that
 * committed first). Read in the take's transaction, so the answer matches what made it find nothing.
 */
async function notTaken(
  grants: Pick<GrantStore, 'get'>,
  requests: Pick<RequestStore, 'stateAndExpiry'>,
  trx: Transaction<Database>,
  id: string,
): Promise<{ error: StintError }> {
  const grant = await grants.get(trx, id);
  if (grant?.credential_shown_at != null) {
    return {
      error: new StintError(
        'CREDENTIAL_ALREADY_SHOWN',
        `the credential of ${id} was already shown; it is shown once`,
      ),
    };
  }
  const ended = await requests.stateAndExpiry(trx, id);
  if (ended?.state === 'expired' && ended.expiresAt !== null) {
    return { error: grantExpired(id, ended.expiresAt) };
  }
  return {
    error: new StintError(
      'CREDENTIAL_NOT_AVAILABLE',
      `request ${id} is ${ended?.state ?? 'gone'}: credentials exist only while it is active`,
    ),
  };
}

export function createRequestService(deps: RequestServiceDeps): RequestService {
  const db = deps.store.db;

  async function view(r: AccessRequest): Promise<RequestView> {
    return toRequestView(r, await deps.grants.get(db, r.id));
  }

  async function readable(actor: Actor, id: string): Promise<AccessRequest> {
    const request = await deps.requests.get(db, id);
    if (!request) throw new StintError('REQUEST_NOT_FOUND', `request ${id} not found`);
    authorize(actor, 'request.read', request);
    return request;
  }

  /**
   * Issuance runs after the approval commits, from the committed row (the outbox), so approving answers at once
   * whatever the target's latency. The approving transaction took the issuance claim: this server starts at
   * once, and if it dies first the claim lapses and any server's sweeper issues from the `approved` row.
   */
  async function issueIfApproved(r: AccessRequest, now: Date, waitMs = 0): Promise<RequestView> {
    if (r.state !== 'approved') return toRequestView(r, undefined);
    // The claim the approving transaction took (claimIfApproved): its instant is the issuer's fencing token.
    const issuing = deps.issue.start(r, now.getTime() + CLAIM_MS);
    if (waitMs <= 0) return toRequestView(r, undefined);
    // The caller asked to hear how issuance ended: the committed row is read again once it has (or the wait ran
    // out, and the answer is still `approved`). An Idempotency-Key replay answers what was sent.
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      issuing.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), waitMs);
      }),
    ]);
    clearTimeout(timer);
    if (!waited) return toRequestView(r, undefined);
    return view((await deps.requests.get(db, r.id)) ?? r);
  }

  /**
   * The claim taken in the approving UPDATE itself (a round trip less than claimIfApproved): a request reaching
   * `approved` was pending until this transaction, and claims are only ever taken on approved rows, so none can
   * be held on it.
   */
  function claimOnApproval(before: AccessRequest, t: Transition, now: Date): ClaimChange | undefined {
    if (before.state === 'approved' || t.request.state !== 'approved') return undefined;
    return { take: now.getTime() + CLAIM_MS };
  }

  async function claimIfApproved(trx: Transaction<Database>, r: AccessRequest, now: Date): Promise<void> {
    if (r.state === 'approved') await deps.requests.claimIssue(trx, r.id, now, CLAIM_MS);
  }

  /** The answer as of the commit, recorded with the change (the route replaces it with what it sent). */
  async function recordView(
    trx: Transaction<Database>,
    r: AccessRequest,
    opts?: ChangeOptions,
  ): Promise<void> {
    if (opts?.record) await opts.record(trx, toRequestView(r, await deps.grants.get(trx, r.id)));
  }

  /** After access ends in Stint, make it end on the target too (retried by the sweeper if this fails). */
  async function endOnTarget(id: string, wasActive: boolean): Promise<RequestView> {
    deps.onEnded(id);
    if (wasActive) await deps.revoker.revokeOnTarget(id);
    return view(await deps.requests.mustGet(db, id));
  }

  return {
    async create(actor, input, opts) {
      authorize(actor, 'request.create');
      // Trimmed once, here: what the ticket pattern matched is exactly what is stored, audited and shown.
      const reason = input.reason.trim();
      const policy = deps.policy.current();
      const decision = evaluateRequest(policy, {
        requester: actor.userId,
        resource: input.resource,
        role: input.role,
        reason,
        ...(input.durationSeconds === undefined ? {} : { durationSeconds: input.durationSeconds }),
      });
      const now = deps.clock();
      const request: AccessRequest = {
        id: newRequestId(),
        requester: actor.userId,
        resource: input.resource,
        role: input.role,
        reason,
        durationSeconds: decision.durationSeconds,
        state: 'pending',
        policyVersion: decision.policyVersion,
        ruleId: decision.ruleId,
        tiers: decision.tiers,
        slots: decision.slots,
        reviews: [],
        createdAt: now,
        pendingUntil: new Date(now.getTime() + policy.settings.pendingTimeoutSeconds * 1000),
        approvedAt: null,
        activatedAt: null,
        expiresAt: null,
        endedAt: null,
        endedBy: null,
        endReason: null,
        version: 1,
      };
      const transitions = created(request);
      await db.transaction().execute(async (trx) => {
        let previous = request;
        let claimed = false;
        for (const [i, t] of transitions.entries()) {
          if (i === 0) await deps.requests.insert(trx, t.request);
          else {
            const claim = claimOnApproval(previous, t, now);
            await deps.requests.apply(trx, previous, t, claim);
            claimed ||= claim !== undefined;
          }
          previous = t.request;
        }
        if (!claimed) await claimIfApproved(trx, previous, now);
        await deps.audit.append(
          trx,
          transitions.map((t) => ({
            at: now,
            actor: t.actor,
            action: t.action,
            requestId: request.id,
            target: { resource: request.resource, role: request.role },
            reason: request.reason,
            details: t.details,
            ...(actor.source ? { source: actor.source } : {}),
          })),
        );
        await opts?.record?.(trx, toRequestView(previous, undefined));
      });
      return issueIfApproved(transitions.at(-1)?.request ?? request, now, opts?.waitMs);
    },

    preview(actor, input) {
      authorize(actor, 'request.create');
      const policy = deps.policy.current();
      const reason = input.reason?.trim();
      const decision = evaluateRequest(
        policy,
        {
          requester: actor.userId,
          resource: input.resource,
          role: input.role,
          reason: reason ?? '',
          ...(input.durationSeconds === undefined ? {} : { durationSeconds: input.durationSeconds }),
        },
        { checkReason: reason !== undefined },
      );
      const sensitivity = policy.resources.get(input.resource)?.sensitivity;
      return {
        ruleId: decision.ruleId,
        policyVersion: decision.policyVersion,
        tiers: decision.tiers,
        waitingFor: decision.slots.map((s) => ({ tier: s.tier, label: s.label, eligible: s.eligible })),
        durationSeconds: decision.durationSeconds,
        maxDurationSeconds: decision.maxDurationSeconds,
        approverStepUp: approvalStepUpReason(sensitivity, 'approve') !== null,
        reasonChecked: reason !== undefined,
      };
    },

    async get(actor, id) {
      return view(await readable(actor, id));
    },

    async list(actor, input) {
      const limit = Math.min(input.limit ?? 100, MAX_LIST);
      let requests: AccessRequest[];
      if (input.scope === 'all') {
        authorize(actor, 'request.list-all');
        requests = await deps.requests.list(db, { limit, ...(input.state ? { state: input.state } : {}) });
      } else if (input.scope === 'to-approve') {
        // Exactly the requests a review by this actor would not refuse for eligibility (domain/eligibility.ts).
        requests = await deps.requests.list(db, {
          reviewableBy: actor.userId,
          state: input.state ?? 'pending',
          limit,
        });
      } else {
        requests = await deps.requests.list(db, {
          requester: actor.userId,
          limit,
          ...(input.state ? { state: input.state } : {}),
        });
      }
      const grants = await deps.grants.getMany(
        db,
        requests.map((r) => r.id),
      );
      return requests.map((r) => toRequestView(r, grants.get(r.id)));
    },

    async review(actor, id, decision: ReviewDecision, comment, opts) {
      if (decision === 'approve') {
        // Only an eligible approver is asked for a second factor; anyone else gets the precise refusal below.
        const request = await deps.requests.get(db, id);
        if (request && isEligibleReviewer(request, actor.userId) && can(actor, 'request.review', request)) {
          const sensitivity = deps.policy.current().resources.get(request.resource)?.sensitivity;
          const reason = approvalStepUpReason(sensitivity, decision);
          if (reason) await deps.stepUp.require(actor, reason);
        }
      }
      const now = deps.clock();
      const { transition } = await deps.run(
        id,
        now,
        (r) => {
          authorize(actor, 'request.review', r);
          return review(r, actor.userId, decision, comment, now);
        },
        async (trx, t) => {
          await opts?.record?.(trx, toRequestView(t.request, undefined));
        },
        { source: actor.source, claim: (t, before) => claimOnApproval(before, t, now) },
      );
      return issueIfApproved(transition.request, now, opts?.waitMs);
    },

    async withdraw(actor, id, comment, opts) {
      const now = deps.clock();
      await deps.run(
        id,
        now,
        (r) => {
          authorize(actor, 'request.withdraw', r);
          return withdraw(r, actor.userId, comment, now);
        },
        (trx, t) => recordView(trx, t.request, opts),
        { source: actor.source },
      );
      return endOnTarget(id, false);
    },

    async revoke(actor, id, comment, opts) {
      const now = deps.clock();
      const { before } = await deps.run(
        id,
        now,
        (r) => {
          authorize(actor, 'request.revoke', r);
          return revoke(r, actor.userId, comment, now);
        },
        async (trx, t, before) => {
          if (before.state === 'active') await deps.grants.markRevocationPending(trx, id, now);
          await recordView(trx, t.request, opts);
        },
        { source: actor.source },
      );
      return endOnTarget(id, before.state === 'active');
    },

    async takeCredential(actor, id, opts): Promise<CredentialView> {
      const request = await readable(actor, id);
      authorize(actor, 'credential.take', request);
      // A take that loses to expiry answers GRANT_EXPIRED whichever committed first: the expiry before this
      // read (here), the instant passed before any expiry ran (below), or the expiry committing while the take
      // waits on the grant row (notTaken).
      if (request.state === 'expired' && request.expiresAt !== null)
        throw grantExpired(id, request.expiresAt);
      if (request.state !== 'active' || request.expiresAt === null) {
        throw new StintError(
          'CREDENTIAL_NOT_AVAILABLE',
          `request ${id} is ${request.state}: credentials exist only while it is active`,
        );
      }
      const now = deps.clock();
      const expiresAt = request.expiresAt;
      if (now.getTime() >= expiresAt.getTime()) throw grantExpired(id, expiresAt);
      // Bad input throws here, before anything changes: the credential stays takeable.
      const made = await completeFromInput({ ...deps, db }, request, expiresAt, opts?.input);
      const taken = await db.transaction().execute(async (trx) => {
        const took = await deps.grants.takeCredential(trx, id, now);
        if (took === null) return notTaken(deps.grants, deps.requests, trx, id);
        const { sealed, grant } = took;
        await deps.audit.append(trx, {
          at: now,
          actor: actor.userId,
          action: 'credential.shown',
          requestId: id,
          target: {
            resource: request.resource,
            role: request.role,
            principal: grant.principal,
          },
          // The user's input is never recorded, only which fields were given (a public key is not secret, but
          // the trail holds what Stint decided, not what users sent).
          details: {
            principal: grant.principal,
            ...(made ? { inputFields: made.inputFields } : {}),
          },
          ...(actor.source ? { source: actor.source } : {}),
        });
        const shown: CredentialView = {
          requestId: id,
          resource: request.resource,
          role: request.role,
          principal: grant.principal,
          expiresAt: expiresAt.toISOString(),
          secret: withExtras(
            { ...(JSON.parse(deps.secrets.open(sealed, id)) as Record<string, string>), ...made?.secret },
            deps.takeExtras?.(request, grant),
          ),
        };
        // Sealed by the recorder: a retry with the same key gets the credential its lost answer carried.
        await opts?.record?.(trx, shown);
        return { shown };
      });
      if ('error' in taken) throw taken.error;
      return taken.shown;
    },
  };
}
