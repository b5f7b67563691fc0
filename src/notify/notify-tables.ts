import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.js';

/**
 * The notify capability's own tables (migration 0013), declared here rather than in the store's schema: only
 * this folder reads or writes them, and `withTables` adds them to a handle of the shared store.
 */
export interface NotifyCursorsTable {
  name: string;
  /** The last audit seq routed: the next one to read is seq + 1. */
  seq: number;
  updated_at: number;
}

export interface NotifyDeliveriesTable {
  /** `dlv_…`, derived from the event's id and the channel's name: the same on every retry and every server. */
  id: string;
  event_seq: number;
  event_id: string;
  action: string;
  request_id: string | null;
  channel: string;
  kind: string;
  /** JSON array of the audiences the event reached this channel for. */
  audiences: string;
  /** JSON array of user ids the message is addressed to (none: the channel's own audience). */
  recipients: string;
  /** pending → delivered, or failed once retries gave up. */
  status: string;
  attempts: number;
  next_attempt_at: number;
  /** Why the last attempt failed, in Stint's words (status code, timeout): never a receiver's body or a secret. */
  last_error: string | null;
  /** The attempt holding the delivery, until `claimed_until`: a server that dies lets it lapse. */
  claim: string | null;
  claimed_until: number | null;
  created_at: number;
  delivered_at: number | null;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
}

export interface NotifyRemindersTable {
  /** The request a reminder is about. */
  subject: string;
  /** `approval` (approvers, before the request times out) or `expiry` (the requester, before access ends). */
  kind: string;
  at: number;
}

export interface NotifyKeysTable {
  id: string;
  /** The key sealed with the server's secret box. */
  sealed: string;
  created_at: number;
}

// A type alias, not an interface: `withTables` wants a record, and only aliases have implicit index signatures.
export type NotifyTables = {
  notify_cursors: NotifyCursorsTable;
  notify_deliveries: NotifyDeliveriesTable;
  notify_reminders: NotifyRemindersTable;
  notify_keys: NotifyKeysTable;
};

export type NotifyDb = Kysely<Database & NotifyTables>;
export type NotifyTrx = Transaction<Database & NotifyTables>;

export function notifyDb(db: Kysely<Database>): NotifyDb {
  return db.withTables<NotifyTables>() as NotifyDb;
}

export function notifyTrx(trx: Transaction<Database>): NotifyTrx {
  return trx.withTables<NotifyTables>() as NotifyTrx;
}
