import type { Kysely, Transaction } from 'kysely';
import type { AuditEventBody } from '../audit/audit-event.js';
import { listAudit } from '../audit/audit-store.js';
import type { Database } from '../store/schema.js';
import type { TimelineEntry } from './breakglass-types.js';

type Db = Kysely<Database> | Transaction<Database>;

/**
 * Reading the audit trail, which is where break-glass learns what happened: acknowledgements (written by the
 * notifier), and a use's timeline for its postmortem. Events are read from their signed bodies.
 */

export interface TrailEvent {
  seq: number;
  at: Date;
  actor: string;
  action: string;
  requestId: string | null;
  details: Record<string, unknown>;
}

const TIMELINE_LIMIT = 1000;

/** Every event of one request, in order. */
export async function timelineOf(db: Db, requestId: string): Promise<TimelineEntry[]> {
  const events = await listAudit(db, { requestId, limit: TIMELINE_LIMIT });
  return events.map((e) => ({ seq: e.seq, at: e.at.toISOString(), actor: e.actor, action: e.action }));
}

/** Events of the given actions after `afterSeq`, in order (request-less ones included). */
export async function eventsAfter(
  db: Db,
  afterSeq: number,
  actions: readonly string[],
  opts: { sinceMs?: number; limit?: number } = {},
): Promise<TrailEvent[]> {
  if (actions.length === 0) return [];
  let query = db
    .selectFrom('audit_events')
    .select(['seq', 'at', 'actor', 'action', 'request_id', 'body'])
    .where('seq', '>', afterSeq)
    .where('action', 'in', [...actions]);
  if (opts.sinceMs !== undefined) query = query.where('at', '>=', opts.sinceMs);
  const rows = await query
    .orderBy('seq')
    .limit(opts.limit ?? 5000)
    .execute();
  return rows.map((r) => {
    const body = r.body === null ? null : (JSON.parse(r.body) as AuditEventBody);
    return {
      seq: Number(r.seq),
      at: new Date(body?.time ?? Number(r.at)),
      actor: body?.actor ?? r.actor,
      action: body?.action ?? r.action,
      requestId: body ? body.requestId : r.request_id,
      details: body?.details ?? {},
    };
  });
}

/** The seq of a request's first event of `action`, read in the transaction that wrote it. */
export async function seqOf(db: Db, requestId: string, action: string): Promise<number | null> {
  const row = await db
    .selectFrom('audit_events')
    .select('seq')
    .where('request_id', '=', requestId)
    .where('action', '=', action)
    .orderBy('seq')
    .limit(1)
    .executeTakeFirst();
  return row ? Number(row.seq) : null;
}

export const toTimeline = (events: readonly TrailEvent[]): TimelineEntry[] =>
  events.map((e) => ({ seq: e.seq, at: e.at.toISOString(), actor: e.actor, action: e.action }));
