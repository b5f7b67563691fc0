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
  /**
   * AES-256-GCM sealed part of the credential Stint keeps and never shows (the real password behind the PostgreSQL
   * proxy): not cleared by the take, only when the grant ends (migration 0018).
   */
  kept_enc: string | null;
  /**
   * none → live; pending → access ended in Stint, target clean-up not yet confirmed; done → verified gone;
   * abandoned → the provider said clean-up can never succeed (target gone): alerted, left for a person.
   */
  revocation: string;
  revoke_attempts: number;
  next_revoke_at: number | null;
  revoke_error: string | null;
  revoked_at: number | null;
  created_at: number;
  /** When the credential was found gone from the target without Stint removing it; NULL otherwise. */
  vanished_at: number | null;
}

/** One row (id 1): the random id that marks everything this store's servers create on targets. */
export interface StoreIdentityTable {
  id: number;
  store_id: string;
  created_at: number;
}

export interface AuditEventsTable {
  /** Leaf index in the audit Merkle log: gap-free, assigned in the recording transaction. */
  seq: number;
  id: string;
  at: number;
  actor: string;
  action: string;
  request_id: string | null;
  /** Canonical JSON (RFC 8785) of the event: the leaf input. NULL once retention purged it. */
  body: string | null;
  leaf_hash: Uint8Array;
  /** Leaf MACs by the server's derived keys (audit/log/leaf-mac.ts); null on leaves from before migration 0007. */
  leaf_mac: Uint8Array | null;
}

/** Witness cosignatures (C2SP tlog-cosignature lines) on the checkpoint of a size. */
export interface AuditCosignaturesTable {
  size: number;
  witness: string;
  /** The witness's signature lines, newline-separated. */
  lines: string;
  created_at: number;
}

/** One row: the first leaf that must carry a MAC (the log's size when MACs were introduced). */
export interface AuditMacStartTable {
  id: number;
  size: number;
}

export interface AuditHeadTable {
  id: number;
  size: number;
}

export interface AuditTreeTable {
  id: number;
  /** Leaves already folded into audit_nodes. */
  built: number;
}

export interface AuditNodesTable {
  level: number;
  idx: number;
  hash: Uint8Array;
}

export interface AuditCheckpointsTable {
  size: number;
  root: Uint8Array;
  note: string;
  created_at: number;
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
  /** JSON array of scopes; NULL for a full-power token (made by `stint admin token create` without scopes). */
  scopes: string | null;
  /** Minted with a session made on the server host: that session's id (its use is marked like the session's). */
  host_session: string | null;
  /** Made on the server host (`stint admin token create`): the account that ran the command, and the host. */
  host_made_by: string | null;
  host_name: string | null;
  /** When the server wrote `token.host-created` (NULL until then, for a host-made token). */
  host_announced_at: number | null;
  /** Revoked on the server host (`stint admin token revoke`): who, on which host. */
  host_revoked_by: string | null;
  host_revoked_on: string | null;
  /** When the server wrote `token.host-revoked` (NULL until then, for a host revocation). */
  host_revoke_announced_at: number | null;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  hash: string;
  source: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  mfa_at: number | null;
  /** When the identity provider last authenticated the person (`auth_time`), if it said. */
  auth_at: number | null;
  /** Made on the server host (`stint admin session create`): the account that ran it; NULL for a sign-in. */
  host_made_by: string | null;
  host_name: string | null;
  /** When the server wrote the audit event announcing a host-made session; NULL until its first use. */
  host_announced_at: number | null;
}

/** A reset of a user's second factors: asked by an admin, done when a second person from security confirms. */
export interface MfaResetsTable {
  id: string;
  user_id: string;
  reason: string;
  requested_by: string;
  requested_at: number;
  expires_at: number;
  confirmed_by: string | null;
  confirmed_at: number | null;
}

export interface IdTokenNoncesTable {
  key: string;
  expires_at: number;
}

/** One TOTP factor per user, its secret sealed (AES-256-GCM, bound to the user); pending until confirmed. */
export interface MfaTotpTable {
  user_id: string;
  secret_enc: string;
  created_at: number;
  confirmed_at: number | null;
  /** Last accepted time-step: a code of this step or an earlier one is a replay. */
  last_step: number | null;
}

export interface WebauthnCredentialsTable {
  /** Credential id, base64url. */
  id: string;
  user_id: string;
  /** COSE public key, base64url. */
  public_key: string;
  counter: number;
  /** JSON array of transports. */
  transports: string;
  created_at: number;
  last_used_at: number | null;
}

export interface WebauthnChallengesTable {
  challenge: string;
  user_id: string;
  /** register | authenticate */
  purpose: string;
  expires_at: number;
}

/** One attempt against a counted limit (store/attempt-limit.ts), kept until it leaves the window. */
export interface CountedAttemptsTable {
  id: string;
  key: string;
  at: number;
}

export interface MfaVerificationsTable {
  user_id: string;
  method: string;
  verified_at: number;
  /** The API token or session that stepped up: the step-up counts for that credential only. */
  credential_id: string | null;
}

/** One Idempotency-Key of one caller: the request it was first sent with, and its answer once it succeeded. */
export interface IdempotencyKeysTable {
  caller: string;
  key: string;
  method: string;
  path: string;
  /** SHA-256 of the request body (hex). */
  fingerprint: string;
  /** pending → an attempt holds the key (until locked_until); done → status and response_enc are the answer. */
  state: string;
  /** The attempt holding a pending key: only it may complete or release the key. */
  attempt: string;
  locked_until: number;
  status: number | null;
  /** The answer's body, sealed with the secret box (it may carry a secret shown once). */
  response_enc: string | null;
  created_at: number;
  expires_at: number;
}

export interface Database {
  requests: RequestsTable;
  reviews: ReviewsTable;
  grants: GrantsTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
  audit_tree: AuditTreeTable;
  audit_nodes: AuditNodesTable;
  audit_checkpoints: AuditCheckpointsTable;
  audit_mac_start: AuditMacStartTable;
  audit_cosignatures: AuditCosignaturesTable;
  api_tokens: ApiTokensTable;
  sessions: SessionsTable;
  id_token_nonces: IdTokenNoncesTable;
  scim_users: ScimUsersTable;
  scim_groups: ScimGroupsTable;
  scim_memberships: ScimMembershipsTable;
  mfa_totp: MfaTotpTable;
  webauthn_credentials: WebauthnCredentialsTable;
  webauthn_challenges: WebauthnChallengesTable;
  counted_attempts: CountedAttemptsTable;
  mfa_verifications: MfaVerificationsTable;
  mfa_resets: MfaResetsTable;
  oidc_profiles: OidcProfilesTable;
  store_identity: StoreIdentityTable;
  idempotency_keys: IdempotencyKeysTable;
}

/** A person pushed over SCIM; `deleted_at` set → a tombstone (removed by the IdP, stays removed). */
export interface ScimUsersTable {
  id: string;
  user_name: string;
  user_name_key: string;
  external_id: string | null;
  active: number;
  resource: string;
  version: number;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

export interface ScimGroupsTable {
  id: string;
  display_name: string;
  external_id: string | null;
  version: number;
  created_at: number;
  updated_at: number;
}

export interface ScimMembershipsTable {
  group_id: string;
  user_id: string;
}

/** Directory facts from a person's last OIDC sign-in; `groups` is a JSON array of group names. */
export interface OidcProfilesTable {
  user_id: string;
  email: string;
  name: string;
  manager: string | null;
  groups: string;
  issuer: string;
  subject: string;
  updated_at: number;
}
