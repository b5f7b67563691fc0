import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import { type AuditEventBody, encodeEvent, resultOf } from './audit-event.js';
import { eventId } from './event-id.js';
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

async function appendIn(
  trx: Transaction<Database>,
  events: readonly AuditInput[],
  macKeys: readonly LeafMacKey[],
): Promise<void> {
  const first = await reserve(trx, events.length);
  const rows = events.map((e, i) => {
    const body: AuditEventBody = {
      v: 1,
      seq: first + i,
      id: eventId(e.at.getTime()),
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
 * change and its record commit together or not at all (fail closed); outside one, it opens its own. Leaves carry
 * a MAC under `macKeys` (none without keys, which the tree builder refuses). Everything outside src/audit
 * appends through the audit module's writer (audit-writer.ts), which holds the keys.
 */
export async function appendAudit(
  db: Db,
  events: AuditInput | readonly AuditInput[],
  macKeys: readonly LeafMacKey[],
): Promise<void> {
  const list = Array.isArray(events) ? events : [events as AuditInput];
  if (list.length === 0) return;
  if (db.isTransaction) return appendIn(db as Transaction<Database>, list, macKeys);
  await db.transaction().execute((trx) => appendIn(trx, list, macKeys));
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
