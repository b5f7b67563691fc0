import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import { type AuditEventBody, encodeEvent, resultOf } from './audit-event.js';
import { type LeafMacKey, leafMac } from './log/leaf-mac.js';
import { leafHash } from './log/merkle.js';
import { redact } from './redact.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface AuditInput {
  at: Date;
  actor: string;
  action: string;
  requestId: string | null;
  details: Record<string, unknown>;
  target?: AuditEventBody['target'];
  reason?: string | null;
  source?: AuditEventBody['source'];
}

export interface AuditEvent {
  seq: number;
  id: string;
  at: Date;
  actor: string;
  action: string;
  requestId: string | null;
  details: Record<string, unknown>;
  /** The canonical event, or null once retention purged it (its leaf hash remains). */
  body: AuditEventBody | null;
}

/**
 * The leaf MAC keys of the server using a store, keyed by the store's dialect adapter: a Kysely instance and
 * every transaction opened from it share that one object, so the 28 places that append inside their own
 * transaction need not carry the keys. A store with no keys registered appends leaves without a MAC, which the
 * tree builder then refuses: only a process holding the signing key can extend the log.
 */
const macKeysByStore = new WeakMap<object, readonly LeafMacKey[]>();

function storeIdentity(db: Db): object {
  // getExecutor() is marked internal in Kysely's typings but is the one handle a transaction shares with its
  // parent; the adapter is created once per Kysely instance and handed to every transaction.
  return (db as unknown as { getExecutor(): { adapter: object } }).getExecutor().adapter;
}

/** Called once by the composition root: leaves appended through `db` (and its transactions) carry MACs. */
export function registerLeafMacKeys(db: Kysely<Database>, keys: readonly LeafMacKey[]): void {
  macKeysByStore.set(storeIdentity(db), keys);
}

/**
 * Takes `n` consecutive leaf indexes. The counter row stays locked until the transaction ends, so indexes are
 * handed out in commit order with no gaps, across every server sharing the store: a rolled-back transaction
 * returns its indexes with it. Callers append audit events last in their transaction to hold the lock briefly.
 */
async function reserve(trx: Transaction<Database>, n: number): Promise<number> {
  const row = await trx
    .updateTable('audit_head')
    .set((eb) => ({ size: eb('size', '+', n) }))
    .where('id', '=', 1)
    .returning('size')
    .executeTakeFirstOrThrow();
  return Number(row.size) - n;
}

async function appendIn(trx: Transaction<Database>, events: readonly AuditInput[]): Promise<void> {
  const first = await reserve(trx, events.length);
  const macKeys = macKeysByStore.get(storeIdentity(trx)) ?? [];
  const rows = events.map((e, i) => {
    const body: AuditEventBody = {
      v: 1,
      seq: first + i,
      id: randomUUID(),
      time: e.at.toISOString(),
      actor: e.actor,
      action: e.action,
      result: resultOf(e.action),
      requestId: e.requestId,
      target: e.target ?? null,
      reason: e.reason ?? null,
      source: e.source ?? null,
      details: redact(e.details) as Record<string, unknown>,
    };
    const text = encodeEvent(body);
    const leaf = leafHash(text);
    return {
      seq: body.seq,
      id: body.id,
      at: e.at.getTime(),
      actor: e.actor,
      action: e.action,
      request_id: e.requestId,
      body: text,
      leaf_hash: leaf,
      leaf_mac: macKeys.length > 0 ? leafMac(macKeys, body.seq, leaf) : null,
    };
  });
  await trx.insertInto('audit_events').values(rows).execute();
}

/**
 * Appends events to the audit log. Called inside the transaction that makes the change it records, so the
 * change and its record commit together or not at all (fail closed); outside one, it opens its own.
 */
export async function appendAudit(db: Db, events: AuditInput | readonly AuditInput[]): Promise<void> {
  const list = Array.isArray(events) ? events : [events as AuditInput];
  if (list.length === 0) return;
  if (db.isTransaction) return appendIn(db as Transaction<Database>, list);
  await db.transaction().execute((trx) => appendIn(trx, list));
}

export interface AuditQuery {
  requestId?: string;
  afterSeq?: number;
  limit: number;
  /** Restricts to events on requests this user made or events this user caused. */
  visibleTo?: string;
}

/** Events as the canonical bodies say, not as the index columns beside them say. */
export async function listAudit(db: Db, q: AuditQuery): Promise<AuditEvent[]> {
  let query = db.selectFrom('audit_events').selectAll().orderBy('seq').limit(q.limit);
  if (q.requestId) query = query.where('request_id', '=', q.requestId);
  if (q.afterSeq !== undefined) query = query.where('seq', '>', q.afterSeq);
  if (q.visibleTo) {
    const user = q.visibleTo;
    query = query.where((eb) =>
      eb.or([
        eb('actor', '=', user),
        eb('request_id', 'in', eb.selectFrom('requests').select('id').where('requester', '=', user)),
      ]),
    );
  }
  const rows = await query.execute();
  return rows.map((r) => {
    const body = r.body === null ? null : (JSON.parse(r.body) as AuditEventBody);
    return {
      seq: Number(r.seq),
      id: body?.id ?? r.id,
      at: new Date(body?.time ?? Number(r.at)),
      actor: body?.actor ?? r.actor,
      action: body?.action ?? r.action,
      requestId: body ? body.requestId : r.request_id,
      details: body?.details ?? { purged: true },
      body,
    };
  });
}
