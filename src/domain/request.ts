/**
 * The access request is the unit of elevation: who asks for which role on which resource, why, for how long,
 * and who may approve it. Modelled on Teleport's access requests: the approval requirement is frozen into the
 * request when it is made, so a later policy edit cannot silently change who may approve it.
 */

export const REQUEST_STATES = [
  'pending',
  'approved',
  'active',
  'expired',
  'denied',
  'withdrawn',
  'revoked',
  'failed',
  'timed_out',
] as const;
export type RequestState = (typeof REQUEST_STATES)[number];

export const TERMINAL_STATES: ReadonlySet<RequestState> = new Set([
  'expired',
  'denied',
  'withdrawn',
  'revoked',
  'failed',
  'timed_out',
]);

export function isTerminal(state: RequestState): boolean {
  return TERMINAL_STATES.has(state);
}

/**
 * `auto` approves at once (low-risk roles only, stated explicitly in policy); `peer` is one teammate;
 * `manager` is the requester's manager; `security` is one member of security; `two-person` is two distinct
 * people, at least one of them from security.
 */
export const TIERS = ['auto', 'peer', 'manager', 'security', 'two-person'] as const;
export type Tier = (typeof TIERS)[number];

/**
 * What a request records as its approval: a rule's tiers, or `breakglass` for an emergency invocation that
 * skipped approval under the policy's `breakglass:` block. Never something a rule may ask for.
 */
export const REQUEST_TIERS = [...TIERS, 'breakglass'] as const;
export type RequestTier = (typeof REQUEST_TIERS)[number];

/**
 * One approval that must be given. A tier expands to one or more slots (two-person → two); a person fills at
 * most one slot across all tiers of a request, which is what "a person counts once" means.
 */
export interface ApprovalSlot {
  tier: Tier;
  /** Human label, e.g. "manager", "security reviewer", "second approver". */
  label: string;
  /** User ids allowed to fill this slot, computed from the directory when the request was made. */
  eligible: string[];
}

export type ReviewDecision = 'approve' | 'deny';

export interface Review {
  reviewer: string;
  decision: ReviewDecision;
  comment: string;
  at: Date;
}

export interface AccessRequest {
  id: string;
  requester: string;
  resource: string;
  role: string;
  /** Ticket or incident reference given as the reason. */
  reason: string;
  durationSeconds: number;
  state: RequestState;
  policyVersion: string;
  ruleId: string;
  tiers: RequestTier[];
  slots: ApprovalSlot[];
  reviews: Review[];
  createdAt: Date;
  /** A pending request not approved by then times out. */
  pendingUntil: Date;
  approvedAt: Date | null;
  activatedAt: Date | null;
  expiresAt: Date | null;
  endedAt: Date | null;
  endedBy: string | null;
  /** Why the request ended early: failure reason, revocation or withdrawal comment. */
  endReason: string | null;
  /** Optimistic concurrency counter, bumped by every transition. */
  version: number;
}
