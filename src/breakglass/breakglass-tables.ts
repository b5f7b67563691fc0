import type { Kysely, Transaction } from 'kysely';
import type { StintDatabase } from '../store/database.js';
import type { Database } from '../store/schema.js';

/**
 * The break-glass tables (migration 0014), declared here beside the capability rather than in the shared schema:
 * `bgDb` widens the store's handle with them. Instants are epoch milliseconds; lists are JSON text.
 */
export type BreakglassTables = {
  /** One row per resource while someone holds break-glass on it: the primary key is the exclusivity. */
  breakglass_holders: { resource: string; request_id: string; holder: string; since: number };
  breakglass_invocations: {
    request_id: string;
    entry_id: string;
    resource: string;
    role: string;
    holder: string;
    channels: string;
    invoked_seq: number;
    invoked_at: number;
    escalate_after_seconds: number;
    escalation_level: number;
    next_escalation_at: number | null;
    acknowledged_at: number | null;
    acknowledged_seq: number | null;
    postmortem_owner: string;
    postmortem_due_seconds: number;
    drill_id: string | null;
    /** When the after-use work (release, rotation, postmortem) was done; NULL until the grant has ended. */
    handled_at: number | null;
  };
  breakglass_seals: {
    id: string;
    /** A resource id, or `stint` for the deployment's own recovery secret. */
    scope: string;
    /** The scope while this seal is the live one; NULL once retired (unique: one live seal per scope). */
    live_scope: string | null;
    label: string;
    threshold: number;
    /** [{ user, commitment }] in share order. */
    officers: string;
    /** `v1.<iv>.<tag>.<ciphertext>` (base64url), AES-256-GCM under the split key. */
    sealed: string;
    /** The Ed25519 public key (SPKI, base64) offline unseal records are signed with. */
    record_key: string;
    state: string;
    uses: number;
    rotation_reason: string | null;
    created_by: string;
    created_at: number;
    retired_at: number | null;
  };
  breakglass_unseals: {
    id: string;
    seal_id: string;
    /** The seal while this attempt is open; NULL once it ended (unique: one attempt at a time). */
    open_seal: string | null;
    purpose: string;
    opened_by: string;
    reason: string;
    state: string;
    /** [{ officer, at }] */
    given: string;
    /** The shares given so far, sealed with the server's key; NULL once the attempt ended. */
    shares_enc: string | null;
    bad_shares: number;
    opened_at: number;
    expires_at: number;
    ended_at: number | null;
    /** The opened secret, sealed for the opener until taken (once). */
    secret_enc: string | null;
  };
  breakglass_offline_records: {
    id: string;
    seal_id: string | null;
    file: string;
    accepted: number;
    ingested_at: number;
  };
  breakglass_postmortems: {
    id: string;
    /** `grant:<request id>`, `unseal:<unseal id>` or `offline:<record id>`: one postmortem per use. */
    subject_ref: string;
    request_id: string | null;
    seal_id: string | null;
    resource: string | null;
    owner: string;
    due_at: number;
    state: string;
    classification: string | null;
    root_cause: string | null;
    follow_ups: string;
    timeline: string;
    opened_at: number;
    closed_at: number | null;
    closed_by: string | null;
    last_reminded_at: number | null;
    last_overdue_at: number | null;
  };
  breakglass_drills: {
    id: string;
    resource: string;
    role: string;
    started_by: string;
    started_at: number;
    finished_at: number | null;
    state: string;
    steps: string;
    request_id: string | null;
  };
  /** Per resource: when its drill period started counting, when its officers last changed, the last alert. */
  breakglass_drill_schedule: {
    resource: string;
    since: number;
    officers_changed_at: number | null;
    last_alert_at: number | null;
  };
};

export type BgDatabase = Database & BreakglassTables;
export type BgDb = Kysely<BgDatabase> | Transaction<BgDatabase>;

/** The store's handle, seeing the break-glass tables too. */
export function bgDb(store: Pick<StintDatabase, 'db'>): Kysely<BgDatabase> {
  return store.db.withTables<BreakglassTables>();
}

/** A break-glass transaction handed to the shared stores (requests, audit), which know only their own tables. */
export function asShared(trx: Transaction<BgDatabase>): Transaction<Database> {
  return trx as unknown as Transaction<Database>;
}
