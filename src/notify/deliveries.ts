import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { StintDatabase } from '../store/database.js';
import { type NotifyDeliveriesTable, type NotifyTrx, notifyDb } from './notify-tables.js';

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export type DeliveryRow = NotifyDeliveriesTable;

/** A delivery as the API shows it: where it stands, never the token that acknowledges it. */
export interface DeliveryView {
  id: string;
  eventSeq: number;
  eventId: string;
  action: string;
  requestId: string | null;
  channel: string;
  kind: string;
  audiences: string[];
  recipients: string[];
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

export function toView(r: DeliveryRow): DeliveryView {
  return {
    id: r.id,
    eventSeq: Number(r.event_seq),
    eventId: r.event_id,
    action: r.action,
    requestId: r.request_id,
    channel: r.channel,
    kind: r.kind,
    audiences: JSON.parse(r.audiences) as string[],
    recipients: JSON.parse(r.recipients) as string[],
    status: r.status as DeliveryStatus,
    attempts: Number(r.attempts),
    nextAttemptAt: r.status === 'pending' ? iso(r.next_attempt_at) : null,
    lastError: r.last_error,
    createdAt: iso(r.created_at) as string,
    deliveredAt: iso(r.delivered_at),
    acknowledgedAt: iso(r.acknowledged_at),
    acknowledgedBy: r.acknowledged_by,
  };
}

/** PostgreSQL hands bigint columns back as strings; everything read here is numbers again. */
function fromDb(r: DeliveryRow): DeliveryRow {
  const n = (v: number | null) => (v === null ? null : Number(v));
  return {
    ...r,
    event_seq: Number(r.event_seq),
    attempts: Number(r.attempts),
    next_attempt_at: Number(r.next_attempt_at),
    claimed_until: n(r.claimed_until),
    created_at: Number(r.created_at),
    delivered_at: n(r.delivered_at),
    acknowledged_at: n(r.acknowledged_at),
  };
}

export interface DeliveryFilter {
  status?: DeliveryStatus;
  channel?: string;
  eventSeq?: number;
  /** Deliveries of events after this seq (paging). */
  afterSeq?: number;
  limit: number;
}

/**
 * The delivery rows: written by routing in the cursor's transaction, then taken one attempt at a time. An
 * attempt claims a row (a claim token and a lease) with a compare-and-set, so on a shared store one server at a
 * time sends it; a server that dies holding it lets the lease lapse and another sends it again, with the same id.
 */
export function createDeliveryStore(store: StintDatabase) {
  const db = notifyDb(store.db);
  const { rowLocks } = store.traits;

  return {
    /** Inserted in the routing transaction; a row already there (the same event routed again) is kept as is. */
    async insert(trx: NotifyTrx, rows: readonly DeliveryRow[]): Promise<void> {
      if (rows.length === 0) return;
      await trx
        .insertInto('notify_deliveries')
        .values([...rows])
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
    },

    /** Channels with something due now. */
    async dueChannels(now: number): Promise<string[]> {
      const rows = await db
        .selectFrom('notify_deliveries')
        .select('channel')
        .distinct()
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', now)]))
        .execute();
      return rows.map((r) => r.channel);
    },

    /**
     * Claims up to `n` due deliveries of `channel`, oldest event first, for `leaseMs`. On PostgreSQL the rows are
     * locked as they are picked (SKIP LOCKED: another server picks others instead of waiting), and the update
     * checks the conditions again, so two servers can never hold one delivery at once.
     */
    async claim(
      channel: string,
      n: number,
      now: number,
      leaseMs: number,
    ): Promise<{ claim: string; rows: DeliveryRow[] }> {
      const claim = randomUUID();
      if (n <= 0) return { claim, rows: [] };
      // Two statements, not `UPDATE … WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)`: PostgreSQL may run
      // such a subquery more than once, each time skipping other rows, and so update more than n.
      const rows = await db.transaction().execute(async (trx) => {
        let due = trx
          .selectFrom('notify_deliveries')
          .select('id')
          .where('channel', '=', channel)
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', now)
          .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', now)]))
          .orderBy('event_seq')
          .limit(n);
        if (rowLocks) due = due.forUpdate().skipLocked();
        const ids = (await due.execute()).map((r) => r.id);
        if (ids.length === 0) return [];
        return trx
          .updateTable('notify_deliveries')
          .set({ claim, claimed_until: now + leaseMs })
          .where('id', 'in', ids)
          .where('status', '=', 'pending')
          .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', now)]))
          .returningAll()
          .execute();
      });
      return { claim, rows: rows.map(fromDb).sort((a, b) => a.event_seq - b.event_seq) };
    },

    async delivered(id: string, claim: string, now: number): Promise<void> {
      await db
        .updateTable('notify_deliveries')
        .set((eb) => ({
          status: 'delivered',
          attempts: eb('attempts', '+', 1),
          delivered_at: sql<number>`COALESCE(delivered_at, ${now})`,
          last_error: null,
          claim: null,
          claimed_until: null,
        }))
        .where('id', '=', id)
        .where('claim', '=', claim)
        .execute();
    },

    /** An attempt failed: retry at `nextAt`, or give up (`failed`) when `giveUp`. An acknowledged row stays delivered. */
    async attemptFailed(
      id: string,
      claim: string,
      failure: { error: string; nextAt: number; giveUp: boolean },
    ): Promise<void> {
      await db
        .updateTable('notify_deliveries')
        .set((eb) => ({
          status: failure.giveUp ? 'failed' : 'pending',
          attempts: eb('attempts', '+', 1),
          next_attempt_at: failure.nextAt,
          last_error: failure.error,
          claim: null,
          claimed_until: null,
        }))
        .where('id', '=', id)
        .where('claim', '=', claim)
        .where('status', '=', 'pending')
        .execute();
    },

    /** Gives a claimed row back untried (the server is stopping): due again at once, for any server. */
    async release(id: string, claim: string): Promise<void> {
      await db
        .updateTable('notify_deliveries')
        .set({ claim: null, claimed_until: null })
        .where('id', '=', id)
        .where('claim', '=', claim)
        .execute();
    },

    async get(id: string, trx?: NotifyTrx): Promise<DeliveryRow | null> {
      let q = (trx ?? db).selectFrom('notify_deliveries').selectAll().where('id', '=', id);
      if (trx && rowLocks) q = q.forUpdate();
      const row = await q.executeTakeFirst();
      return row ? fromDb(row) : null;
    },

    /** Records the first acknowledgement; false when it was acknowledged before. Proof of receipt: delivered. */
    async acknowledge(trx: NotifyTrx, id: string, at: number, by: string): Promise<boolean> {
      const result = await trx
        .updateTable('notify_deliveries')
        .set({
          acknowledged_at: at,
          acknowledged_by: by,
          status: 'delivered',
          delivered_at: sql<number>`COALESCE(delivered_at, ${at})`,
        })
        .where('id', '=', id)
        .where('acknowledged_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async list(f: DeliveryFilter): Promise<DeliveryRow[]> {
      let q = db
        .selectFrom('notify_deliveries')
        .selectAll()
        .orderBy('event_seq')
        .orderBy('channel')
        .limit(f.limit);
      if (f.status) q = q.where('status', '=', f.status);
      if (f.channel) q = q.where('channel', '=', f.channel);
      if (f.eventSeq !== undefined) q = q.where('event_seq', '=', f.eventSeq);
      if (f.afterSeq !== undefined) q = q.where('event_seq', '>', f.afterSeq);
      return (await q.execute()).map(fromDb);
    },

    /** How many deliveries stand in each status, per channel (the metrics). */
    async counts(): Promise<{ channel: string; status: string; count: number }[]> {
      const rows = await db
        .selectFrom('notify_deliveries')
        .select(['channel', 'status', (eb) => eb.fn.countAll<number>().as('count')])
        .groupBy(['channel', 'status'])
        .execute();
      return rows.map((r) => ({ channel: r.channel, status: r.status, count: Number(r.count) }));
    },
  };
}

export type DeliveryStore = ReturnType<typeof createDeliveryStore>;
