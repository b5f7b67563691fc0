import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.js';

/**
 * The recording capability's tables (migration 0016), typed beside the capability rather than in the store's
 * shared schema: the capability reads and writes them alone. Instants are epoch milliseconds, as everywhere.
 */
export interface RecordedSessionsTable {
  id: string;
  request_id: string;
  requester: string;
  resource: string;
  role: string;
  sensitivity: string;
  /** `ssh` (the PostgreSQL proxy will add `postgres`). */
  protocol: string;
  /** The account on the target the session logged in as. */
  account: string;
  /** The client's address as the proxy saw it. */
  client: string | null;
  /** Which proxy (host and pid) carried the session. */
  server: string;
  started_at: number;
  ended_at: number | null;
  end_reason: string | null;
  /** Refreshed while the proxy carrying the session lives: a stale one means the proxy died (crash). */
  heartbeat_at: number;
}

export interface RecordingsTable {
  id: string;
  session_id: string;
  /** The SSH channel number inside the session. */
  channel: number;
  /** `shell` or `exec`. */
  type: string;
  command: string | null;
  /** Where its segments are: the storage's location (a local folder, `store`, or an S3 bucket and prefix). */
  storage: string;
  /** live → complete (ended by the proxy) or recovered (its proxy died; sealed at the next start). */
  state: string;
  started_at: number;
  ended_at: number | null;
}

export interface RecordingSegmentsTable {
  recording_id: string;
  idx: number;
  /** open (being written) → sealed (hashed; the hash is in the audit trail). */
  state: string;
  sha256: string | null;
  bytes: number | null;
  /** 1 when sealed by the orphan finaliser after its writer died. */
  recovered: number;
  opened_at: number;
  sealed_at: number | null;
}

export interface RecordingChunksTable {
  recording_id: string;
  segment: number;
  n: number;
  data: Uint8Array;
}

export interface SessionReviewsTable {
  session_id: string;
  request_id: string;
  requester: string;
  resource: string;
  /** JSON array: why the session is in the queue (critical, sensitive, break-glass, incident, sampled). */
  reasons: string;
  /** The draw in [0, 1) and the rate it was compared with, as decimal text (exactly what the audit event says). */
  draw: string;
  rate: string;
  /** queued → completed. */
  state: string;
  created_at: number;
  due_at: number;
  verdict: string | null;
  notes: string | null;
  reviewer: string | null;
  completed_at: number | null;
  /** Who is reviewing it now (one at a time) and since when (migration 0019). */
  claimed_by: string | null;
  claimed_at: number | null;
  /** When its due-soon and overdue reminders were written: each once (migration 0019). */
  due_soon_sent_at: number | null;
  overdue_sent_at: number | null;
}

export interface SessionReviewSeedTable {
  id: number;
  seed: string;
  created_at: number;
}

export interface RecordingTables {
  recorded_sessions: RecordedSessionsTable;
  recordings: RecordingsTable;
  recording_segments: RecordingSegmentsTable;
  recording_chunks: RecordingChunksTable;
  session_reviews: SessionReviewsTable;
  session_review_seed: SessionReviewSeedTable;
}

export type RecordingDatabase = Database & RecordingTables;
export type RecordingDb = Kysely<RecordingDatabase>;

/** The store with this capability's tables in view (they exist from migration 0016 on). */
export function recordingDb(db: Kysely<Database>): RecordingDb {
  return db as unknown as RecordingDb;
}

/** A transaction of ours as the audit writer takes it: the same connection, the narrower table list. */
export function asStoreTx(trx: Transaction<RecordingDatabase>): Transaction<Database> {
  return trx as unknown as Transaction<Database>;
}
