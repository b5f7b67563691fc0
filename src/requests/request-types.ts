import type { RequestState, ReviewDecision, Tier } from '../domain/request.js';

/** Who is acting. Roles beyond requester come from the directory; approver is decided per request. */
export interface Actor {
  userId: string;
  security: boolean;
  admin: boolean;
  auditor: boolean;
  /** Where the call came from, for the audit trail. */
  source?: { ip: string | null; userAgent: string | null };
  /** How the caller authenticated; scopes null means the credential carries the user's full power. */
  credential?: { kind: 'api-token' | 'session' | 'cookie'; id: string; scopes: readonly string[] | null };
  /** When the identity provider last verified a second factor for this session, if it said so. */
  mfaAt?: Date | null;
  /** When the identity provider last authenticated the person of this session (`auth_time`), if it said so. */
  authAt?: Date | null;
}

export type RevocationStatus = 'none' | 'pending' | 'done';

/** A request as the API shows it: never a secret in it. Dates as ISO strings. */
export interface RequestView {
  id: string;
  requester: string;
  resource: string;
  role: string;
  reason: string;
  durationSeconds: number;
  state: RequestState;
  tiers: Tier[];
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

export interface ResourceView {
  id: string;
  kind: string;
  description: string;
  sensitivity: string;
  roles: { name: string; description: string }[];
}

export interface WhoAmIView {
  userId: string;
  email: string;
  name: string;
  teams: string[];
  manager: string | null;
  roles: string[];
}

/** The request workflow behind /v1/requests. Every method enforces authorization itself (deny by default). */
export interface RequestService {
  create(actor: Actor, input: CreateRequestInput): Promise<RequestView>;
  get(actor: Actor, id: string): Promise<RequestView>;
  list(actor: Actor, input: ListRequestsInput): Promise<RequestView[]>;
  review(actor: Actor, id: string, decision: ReviewDecision, comment: string): Promise<RequestView>;
  withdraw(actor: Actor, id: string, comment: string): Promise<RequestView>;
  revoke(actor: Actor, id: string, comment: string): Promise<RequestView>;
  /** Hands out the credential once; a second call fails with CREDENTIAL_ALREADY_SHOWN. */
  takeCredential(actor: Actor, id: string): Promise<CredentialView>;
}
