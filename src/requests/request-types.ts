import type { Actor } from '../domain/actor.js';
import type { RequestState, RequestTier, ReviewDecision, Tier } from '../domain/request.js';
import type { ChangeOptions } from '../idempotency/recorded-answer.js';

export type RevocationStatus = 'none' | 'pending' | 'done' | 'abandoned';

/** A request as the API shows it: never a secret in it. Dates as ISO strings. */
export interface RequestView {
  id: string;
  requester: string;
  resource: string;
  role: string;
  reason: string;
  durationSeconds: number;
  state: RequestState;
  tiers: RequestTier[];
  /** Approvals still needed, with who may give each. */
  waitingFor: { tier: Tier; label: string; eligible: string[] }[];
  /** Everyone who may approve or deny, frozen when the request was made. */
  eligibleApprovers: string[];
  reviews: { reviewer: string; decision: ReviewDecision; comment: string; at: string }[];
  policyVersion: string;
  ruleId: string;
  createdAt: string;
  pendingUntil: string;
  approvedAt: string | null;
  activatedAt: string | null;
  expiresAt: string | null;
  endedAt: string | null;
  endedBy: string | null;
  endReason: string | null;
  /** For active/ended grants: whether the credential on the target is gone yet. */
  revocation: RevocationStatus;
  revocationError: string | null;
  /** True once the credential was handed out (it is shown once). */
  credentialShown: boolean;
  /** When the credential was found removed from the target by someone other than Stint; null otherwise. */
  credentialVanishedAt: string | null;
}

export interface CreateRequestInput {
  resource: string;
  role: string;
  reason: string;
  /** Seconds; absent → the rule's default. */
  durationSeconds?: number;
}

/** What a request would need if it were sent now: the policy's answer, nothing stored. */
export interface RequestPreview {
  ruleId: string;
  policyVersion: string;
  tiers: Tier[];
  /** Every approval it would wait for, with who may give each (the requester never among them). */
  waitingFor: { tier: Tier; label: string; eligible: string[] }[];
  durationSeconds: number;
  maxDurationSeconds: number;
  /** Approving it needs a fresh second factor of the approver (sensitive and critical resources). */
  approverStepUp: boolean;
  /** False when no reason was given yet: the ticket rule was not checked. */
  reasonChecked: boolean;
}

export interface PreviewRequestInput {
  resource: string;
  role: string;
  /** Absent: the ticket rule is not checked (the form asks before the reason is typed). */
  reason?: string;
  durationSeconds?: number;
}

export type RequestScope = 'mine' | 'to-approve' | 'all';

export interface ListRequestsInput {
  scope: RequestScope;
  state?: RequestState;
  limit?: number;
}

export interface CredentialView {
  requestId: string;
  resource: string;
  role: string;
  principal: string;
  expiresAt: string;
  /** e.g. { url, username, password, host, port, database } for PostgreSQL. */
  secret: Record<string, string>;
}

export interface TakeOptions extends ChangeOptions {
  /** The take's body: checked against the resource's kind's `takeInput` (none: it must be empty). */
  input?: unknown;
}

export interface IssuingOptions extends ChangeOptions {
  /**
   * How long to wait, once the approval committed, for this server to finish issuing before answering
   * (`Prefer: wait`, RFC 7240): the answer is then `active` or `failed`, not `approved`. 0 answers at the commit.
   */
  waitMs?: number;
}

/** The request workflow behind /v1/requests. Every method enforces authorization itself (deny by default). */
export interface RequestService {
  create(actor: Actor, input: CreateRequestInput, opts?: IssuingOptions): Promise<RequestView>;
  /** What `create` would decide for this input, refusing as it would; changes nothing. */
  preview(actor: Actor, input: PreviewRequestInput): RequestPreview;
  get(actor: Actor, id: string): Promise<RequestView>;
  list(actor: Actor, input: ListRequestsInput): Promise<RequestView[]>;
  review(
    actor: Actor,
    id: string,
    decision: ReviewDecision,
    comment: string,
    opts?: IssuingOptions,
  ): Promise<RequestView>;
  withdraw(actor: Actor, id: string, comment: string, opts?: ChangeOptions): Promise<RequestView>;
  revoke(actor: Actor, id: string, comment: string, opts?: ChangeOptions): Promise<RequestView>;
  /** Hands out the credential once; a second call fails with CREDENTIAL_ALREADY_SHOWN. */
  takeCredential(actor: Actor, id: string, opts?: TakeOptions): Promise<CredentialView>;
}
