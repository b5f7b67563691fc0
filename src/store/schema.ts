import type { Generated } from 'kysely';

/**
 * Table shapes shared by both dialects. Instants are epoch milliseconds (bigint on PostgreSQL, parsed back to
 * number) and structured values are JSON text, so one set of queries serves SQLite and PostgreSQL alike.
 */
export interface RequestsTable {
  id: string;
  requester: string;
  resource: string;
  role: string;
  reason: string;
  duration_seconds: number;
  state: string;
  policy_version: string;
  rule_id: string;
  tiers: string;
  slots: string;
  created_at: number;
  pending_until: number;
  approved_at: number | null;
  activated_at: number | null;
  expires_at: number | null;
  ended_at: number | null;
  ended_by: string | null;
  end_reason: string | null;
  version: number;
  /** Outbox claim: while in the future, one server is issuing this approved request's credential. */
  issue_claimed_until: number | null;
}

export interface ReviewsTable {
  request_id: string;
  reviewer: string;
  decision: string;
  comment: string;
  at: number;
}

export interface GrantsTable {
  request_id: string;
  resource: string;
  principal: string;
  /** AES-256-GCM sealed credential; NULL once it has been shown (shown once, then not kept). */
  credential_enc: string | null;
  credential_shown_at: number | null;
  /** none → live; pending → access ended in Stint, target clean-up not yet confirmed; done → verified gone. */
  revocation: string;
  revoke_attempts: number;
  next_revoke_at: number | null;
  revoke_error: string | null;
  revoked_at: number | null;
  created_at: number;
}

export interface AuditEventsTable {
  seq: Generated<number>;
  id: string;
  at: number;
  actor: string;
  action: string;
  request_id: string | null;
  details: string;
}

export interface ApiTokensTable {
  id: string;
  user_id: string;
  name: string;
  hash: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

export interface Database {
  requests: RequestsTable;
  reviews: ReviewsTable;
  grants: GrantsTable;
  audit_events: AuditEventsTable;
  api_tokens: ApiTokensTable;
}
