import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import { redact } from './redact.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface AuditInput {
  at: Date;
  actor: string;
  action: string;
  requestId: string | null;
  details: Record<string, unknown>;
}

export interface AuditEvent extends AuditInput {
  seq: number;
  id: string;
}

/**
 * Appends one event. Called inside the transaction that makes the change it records, so the change and its
 * record commit together or not at all (fail closed).
 */
export async function appendAudit(db: Db, e: AuditInput): Promise<void> {
  await db
    .insertInto('audit_events')
    .values({
      id: randomUUID(),
      at: e.at.getTime(),
      actor: e.actor,
      action: e.action,
      request_id: e.requestId,
      details: JSON.stringify(redact(e.details)),
    })
    .execute();
}

export interface AuditQuery {
  requestId?: string;
  afterSeq?: number;
  limit: number;
  /** Restricts to events on requests this user made or events this user caused. */
  visibleTo?: string;
}

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
  return rows.map((r) => ({
    seq: Number(r.seq),
    id: r.id,
    at: new Date(r.at),
    actor: r.actor,
    action: r.action,
    requestId: r.request_id,
    details: JSON.parse(r.details) as Record<string, unknown>,
  }));
}
