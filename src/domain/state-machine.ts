import { isSatisfied } from './approval.js';
import { reviewEligibility } from './eligibility.js';
import { StintError } from './errors.js';
import { type AccessRequest, isTerminal, type ReviewDecision } from './request.js';
import { allowedFrom, TRANSITIONS, type TransitionName } from './transitions.js';

/**
 * The only way a request changes state. Each function is pure: it takes the request as stored and `now`, and
 * returns the next request plus the audit action that records the change, or throws a StintError and changes
 * nothing. The store persists both in one transaction.
 */

export type AuditAction =
  | 'request.created'
  | 'request.reviewed'
  | 'request.approved'
  | 'request.denied'
  | 'request.withdrawn'
  | 'request.timed_out'
  | 'request.failed'
  | 'grant.activated'
  | 'grant.expired'
  | 'grant.revoked'
  | 'grant.vanished';

export interface Transition {
  request: AccessRequest;
  action: AuditAction;
  /** Who caused it: a user id, or `stint` for the system (timers, issuance). */
  actor: string;
  /** Non-secret facts for the audit event. */
  details: Record<string, unknown>;
}

export const SYSTEM_ACTOR = 'stint';

/** Refuses, changing nothing, a transition the table does not allow from the request's state. */
function assertState(
  request: AccessRequest,
  name: TransitionName,
  verb: string = TRANSITIONS[name].verb,
): void {
  if (!allowedFrom(name).includes(request.state)) {
    const why = isTerminal(request.state) ? 'it has ended' : `it is ${request.state}`;
    throw new StintError('INVALID_TRANSITION', `cannot ${verb} request ${request.id}: ${why}`, {
      state: request.state,
    });
  }
}

function next(request: AccessRequest, changes: Partial<AccessRequest>): AccessRequest {
  return { ...request, ...changes, version: request.version + 1 };
}

/** A new request starts pending, or approved straight away when its only tier is `auto`. */
export function created(request: AccessRequest): Transition[] {
  const out: Transition[] = [
    {
      request,
      action: 'request.created',
      actor: request.requester,
      details: {
        resource: request.resource,
        role: request.role,
        reason: request.reason,
        durationSeconds: request.durationSeconds,
        tiers: request.tiers,
        ruleId: request.ruleId,
        policyVersion: request.policyVersion,
      },
    },
  ];
  if (request.slots.length === 0 && request.tiers.includes('auto')) {
    const approved = next(request, { state: 'approved', approvedAt: request.createdAt });
    out.push({
      request: approved,
      action: 'request.approved',
      actor: SYSTEM_ACTOR,
      details: { tier: 'auto' },
    });
  }
  return out;
}

/**
 * Break-glass: a request made under the policy's `breakglass:` block starts approved, without review, with the
 * single tier `breakglass` and no approval slots (nobody could fill one in an emergency). Its approval says so,
 * and that the session it grants is to be reviewed in full (`review: required`, for the recording capability).
 * Any other request is refused: this path never approves a request a rule should have reviewed.
 */
export function invoked(request: AccessRequest): [made: Transition, approved: Transition] {
  const onlyBreakglass = request.tiers.length === 1 && request.tiers[0] === 'breakglass';
  if (!onlyBreakglass || request.slots.length > 0 || request.state !== 'pending' || request.version !== 1) {
    throw new StintError(
      'INVALID_TRANSITION',
      `request ${request.id} is not a new break-glass request: it cannot skip approval`,
      { state: request.state },
    );
  }
  const approved = next(request, { state: 'approved', approvedAt: request.createdAt });
  return [
    created(request)[0] as Transition,
    {
      request: approved,
      action: 'request.approved',
      actor: SYSTEM_ACTOR,
      details: { tier: 'breakglass', review: 'required' },
    },
  ];
}

export function review(
  request: AccessRequest,
  reviewer: string,
  decision: ReviewDecision,
  comment: string,
  now: Date,
): Transition {
  const eligibility = reviewEligibility(request, reviewer);
  // Self-review is refused before anything else, whatever state the request is in.
  if (!eligibility.eligible && eligibility.reason === 'SELF_APPROVAL') {
    throw new StintError('SELF_APPROVAL', 'nobody may review their own request');
  }
  assertState(request, 'review', decision);
  if (now.getTime() >= request.pendingUntil.getTime()) {
    throw new StintError(
      'INVALID_TRANSITION',
      `request ${request.id} passed its approval deadline unapproved`,
    );
  }
  if (!eligibility.eligible) {
    if (eligibility.reason === 'ALREADY_REVIEWED') {
      throw new StintError('ALREADY_REVIEWED', `${reviewer} has already reviewed request ${request.id}`);
    }
    throw new StintError(
      'NOT_AN_APPROVER',
      `${reviewer} is not an eligible approver of request ${request.id}`,
      {
        tiers: request.tiers,
      },
    );
  }
  const reviews = [...request.reviews, { reviewer, decision, comment, at: now }];
  if (decision === 'deny') {
    return {
      request: next(request, {
        reviews,
        state: 'denied',
        endedAt: now,
        endedBy: reviewer,
        endReason: comment,
      }),
      action: 'request.denied',
      actor: reviewer,
      details: { comment },
    };
  }
  const reviewed = { ...request, reviews };
  if (isSatisfied(reviewed)) {
    return {
      request: next(request, { reviews, state: 'approved', approvedAt: now }),
      action: 'request.approved',
      actor: reviewer,
      details: { comment, approvers: reviews.filter((r) => r.decision === 'approve').map((r) => r.reviewer) },
    };
  }
  return {
    request: next(request, { reviews }),
    action: 'request.reviewed',
    actor: reviewer,
    details: { comment },
  };
}

/** The requester takes back a request that has not become active yet. */
export function withdraw(request: AccessRequest, actor: string, comment: string, now: Date): Transition {
  if (actor !== request.requester) {
    throw new StintError('FORBIDDEN', 'only the requester may withdraw a request');
  }
  assertState(request, 'withdraw');
  return {
    request: next(request, { state: 'withdrawn', endedAt: now, endedBy: actor, endReason: comment || null }),
    action: 'request.withdrawn',
    actor,
    details: { comment },
  };
}

/** The window starts at activation, not when the request was made or approved. */
export function activate(request: AccessRequest, now: Date): Transition {
  assertState(request, 'activate');
  const expiresAt = new Date(now.getTime() + request.durationSeconds * 1000);
  return {
    request: next(request, { state: 'active', activatedAt: now, expiresAt }),
    action: 'grant.activated',
    actor: SYSTEM_ACTOR,
    details: { expiresAt: expiresAt.toISOString() },
  };
}

export function fail(request: AccessRequest, reason: string, now: Date): Transition {
  assertState(request, 'fail');
  return {
    request: next(request, { state: 'failed', endedAt: now, endedBy: SYSTEM_ACTOR, endReason: reason }),
    action: 'request.failed',
    actor: SYSTEM_ACTOR,
    details: { reason },
  };
}

export function expire(request: AccessRequest, now: Date): Transition {
  assertState(request, 'expire');
  if (request.expiresAt === null || now.getTime() < request.expiresAt.getTime()) {
    throw new StintError('INVALID_TRANSITION', `request ${request.id} has not reached its expiry`);
  }
  return {
    request: next(request, { state: 'expired', endedAt: now, endedBy: SYSTEM_ACTOR }),
    action: 'grant.expired',
    actor: SYSTEM_ACTOR,
    details: { expiresAt: request.expiresAt.toISOString() },
  };
}

/** Ends access now. Who may revoke is decided by authorization; the state machine only checks it is live. */
export function revoke(request: AccessRequest, actor: string, comment: string, now: Date): Transition {
  assertState(request, 'revoke');
  return {
    request: next(request, { state: 'revoked', endedAt: now, endedBy: actor, endReason: comment || null }),
    action: 'grant.revoked',
    actor,
    details: { comment },
  };
}

/** Why a request ended when its credential was found gone from the target: shown to its requester. */
export const VANISHED_REASON = 'the credential was removed from the target outside Stint';

/**
 * The credential of a live grant was found gone from its target, removed by someone other than Stint. Access
 * has ended in fact; the request says so instead of showing `active` for access that no longer exists.
 */
export function vanish(request: AccessRequest, now: Date, details: Record<string, unknown>): Transition {
  assertState(request, 'vanish');
  return {
    request: next(request, {
      state: 'revoked',
      endedAt: now,
      endedBy: SYSTEM_ACTOR,
      endReason: VANISHED_REASON,
    }),
    action: 'grant.vanished',
    actor: SYSTEM_ACTOR,
    details,
  };
}

export function timeOut(request: AccessRequest, now: Date): Transition {
  assertState(request, 'timeOut');
  if (now.getTime() < request.pendingUntil.getTime()) {
    throw new StintError('INVALID_TRANSITION', `request ${request.id} has not reached its approval deadline`);
  }
  return {
    request: next(request, { state: 'timed_out', endedAt: now, endedBy: SYSTEM_ACTOR }),
    action: 'request.timed_out',
    actor: SYSTEM_ACTOR,
    details: { pendingUntil: request.pendingUntil.toISOString() },
  };
}
