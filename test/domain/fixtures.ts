import type { AccessRequest, ApprovalSlot, Review, Tier } from '../../src/domain/request.js';

export const T0 = new Date('2030-01-01T00:00:00.000Z');

export function at(seconds: number): Date {
  return new Date(T0.getTime() + seconds * 1000);
}

export function slot(tier: Tier, eligible: string[], label: string = tier): ApprovalSlot {
  return { tier, label, eligible };
}

export function approve(reviewer: string, atSeconds = 1): Review {
  return { reviewer, decision: 'approve', comment: '', at: at(atSeconds) };
}

/** A pending request made at T0 that times out an hour later; override anything. */
export function makeRequest(overrides: Partial<AccessRequest> = {}): AccessRequest {
  const slots = overrides.slots ?? [slot('peer', ['bob', 'carol'])];
  return {
    id: 'req-1',
    requester: 'alice',
    resource: 'prod-db',
    role: 'read-only',
    reason: 'INC-1234',
    durationSeconds: 3600,
    state: 'pending',
    policyVersion: 'v1',
    ruleId: 'rule-1',
    tiers: slots.length === 0 ? ['auto'] : [...new Set(slots.map((s) => s.tier))],
    slots,
    reviews: [],
    createdAt: T0,
    pendingUntil: at(3600),
    approvedAt: null,
    activatedAt: null,
    expiresAt: null,
    endedAt: null,
    endedBy: null,
    endReason: null,
    version: 1,
    ...overrides,
  };
}

/**
 * Independent oracle for "every slot is filled by a different eligible person who is not the requester": tries
 * every injective assignment of approvers to slots. Exponential, so only for the handful of slots tests use; it
 * deliberately shares no code with matchApprovers.
 */
export function bruteForceSatisfied(
  slots: readonly ApprovalSlot[],
  approvers: readonly string[],
  requester: string,
): boolean {
  const people = [...new Set(approvers)].filter((p) => p !== requester);
  const fill = (i: number, used: ReadonlySet<string>): boolean => {
    const current = slots[i];
    if (current === undefined) return true;
    return people.some(
      (p) => !used.has(p) && current.eligible.includes(p) && fill(i + 1, new Set([...used, p])),
    );
  };
  return fill(0, new Set());
}

/** Size of the largest assignment of distinct approvers to slots, by brute force over slot subsets. */
export function bruteForceMaxMatching(slots: readonly ApprovalSlot[], approvers: readonly string[]): number {
  const people = [...new Set(approvers)];
  const best = (i: number, used: ReadonlySet<string>): number => {
    const current = slots[i];
    if (current === undefined) return 0;
    let most = best(i + 1, used); // leave slot i open
    for (const p of people) {
      if (!used.has(p) && current.eligible.includes(p)) {
        most = Math.max(most, 1 + best(i + 1, new Set([...used, p])));
      }
    }
    return most;
  };
  return best(0, new Set());
}
