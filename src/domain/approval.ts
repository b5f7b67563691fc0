import { isApproverOf } from './eligibility.js';
import type { AccessRequest, ApprovalSlot } from './request.js';

/**
 * Largest assignment of distinct approvers to slots (Kuhn's augmenting paths). Requests have a handful of slots
 * and approvers, so the simple algorithm is exact and fast enough; greedy assignment is not exact (an early
 * approver could take the only slot a later one fits).
 */
export function matchApprovers(
  slots: readonly ApprovalSlot[],
  approvers: readonly string[],
): Map<number, string> {
  const people = [...new Set(approvers)];
  const slotOwner = new Map<number, string>();

  const tryAssign = (person: string, seen: Set<number>): boolean => {
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] as ApprovalSlot;
      if (seen.has(i) || !slot.eligible.includes(person)) continue;
      seen.add(i);
      const owner = slotOwner.get(i);
      if (owner === undefined || tryAssign(owner, seen)) {
        slotOwner.set(i, person);
        return true;
      }
    }
    return false;
  };

  for (const person of people) tryAssign(person, new Set());
  return slotOwner;
}

export function approversOf(request: Pick<AccessRequest, 'reviews' | 'requester'>): string[] {
  return request.reviews
    .filter((r) => r.decision === 'approve' && r.reviewer !== request.requester)
    .map((r) => r.reviewer);
}

/** True when every slot is filled by a different eligible approver. An `auto` request has no slots. */
export function isSatisfied(request: Pick<AccessRequest, 'reviews' | 'requester' | 'slots'>): boolean {
  return matchApprovers(request.slots, approversOf(request)).size === request.slots.length;
}

/** Slots not yet filled, for telling people what a request still waits for. */
export function openSlots(request: Pick<AccessRequest, 'reviews' | 'requester' | 'slots'>): ApprovalSlot[] {
  const filled = matchApprovers(request.slots, approversOf(request));
  return request.slots.filter((_, i) => !filled.has(i));
}

/** Kept for callers that ask only "is this person an approver": the rule itself lives in eligibility.ts. */
export const isEligibleReviewer: (
  request: Pick<AccessRequest, 'slots' | 'requester'>,
  userId: string,
) => boolean = isApproverOf;
