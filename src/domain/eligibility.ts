import type { AccessRequest } from './request.js';

/**
 * Whether someone may review a request now, decided here alone: the state machine refuses a review for the
 * reason given, authorization lets approvers read and revoke, and the to-approve list shows exactly the requests
 * for which this says eligible. Approvers were frozen into the slots when the request was made, so no directory
 * lookup is needed (or wanted: a later directory change must not change who may approve).
 */
export type Ineligibility = 'SELF_APPROVAL' | 'NOT_AN_APPROVER' | 'ALREADY_REVIEWED';

export type ReviewEligibility = { eligible: true } | { eligible: false; reason: Ineligibility };

type Reviewable = Pick<AccessRequest, 'requester' | 'slots' | 'reviews'>;

/**
 * An approver of the request: listed for one of its slots and not its requester (who may be listed, when they
 * are on the team they ask a peer of). Stays an approver after reviewing, so can still read and revoke.
 */
export function isApproverOf(request: Pick<AccessRequest, 'requester' | 'slots'>, userId: string): boolean {
  return userId !== request.requester && request.slots.some((s) => s.eligible.includes(userId));
}

/** Reasons in the order a refusal reports them: self first, whatever else is also true. */
export function reviewEligibility(request: Reviewable, userId: string): ReviewEligibility {
  if (userId === request.requester) return { eligible: false, reason: 'SELF_APPROVAL' };
  if (!isApproverOf(request, userId)) return { eligible: false, reason: 'NOT_AN_APPROVER' };
  if (request.reviews.some((r) => r.reviewer === userId))
    return { eligible: false, reason: 'ALREADY_REVIEWED' };
  return { eligible: true };
}
