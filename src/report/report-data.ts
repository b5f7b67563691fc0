import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { Period } from './period.js';
import type { ReportEvent, ReportInput, ReportRequest } from './report-figures.js';

/** The postmortem events the report follows (break-glass's; read by their names only). */
export const POSTMORTEM_ACTIONS = [
  'postmortem.opened',
  'postmortem.updated',
  'postmortem.overdue',
  'postmortem.closed',
] as const;
export const BREAKGLASS_USE = 'breakglass.invoked';

function parseBody(
  body: string | null,
): { details: Record<string, unknown>; resource: string | null } | null {
  if (body === null) return null;
  try {
    const e = JSON.parse(body) as {
      details?: Record<string, unknown>;
      target?: { resource?: unknown } | null;
    };
    const details = e.details ?? {};
    const resource = e.target?.resource ?? details.resource;
    return { details, resource: typeof resource === 'string' ? resource : null };
  } catch {
    return { details: {}, resource: null };
  }
}

/**
 * What the report reads for a period: the requests made in it (with their reviews), break-glass uses and
 * postmortem events by action name, and how many events of the period retention purged. Aggregates stay in the
 * store where they can; the rest is one pass over the period's rows.
 */
export async function readReportInput(
  db: Kysely<Database>,
  period: Period,
): Promise<Omit<ReportInput, 'period' | 'now'>> {
  const since = period.since.getTime();
  const until = period.until.getTime();
  const [rows, reviews, breakglass, postmortems, purged, purgedPostmortems] = await Promise.all([
    db
      .selectFrom('requests')
      .select([
        'id',
        'requester',
        'resource',
        'reason',
        'state',
        'tiers',
        'slots',
        'created_at',
        'approved_at',
      ])
      .where('created_at', '>=', since)
      .where('created_at', '<', until)
      .orderBy('created_at')
      .execute(),
    db
      .selectFrom('reviews')
      .innerJoin('requests', 'requests.id', 'reviews.request_id')
      .select(['reviews.request_id', 'reviews.reviewer', 'reviews.decision', 'reviews.comment', 'reviews.at'])
      .where('requests.created_at', '>=', since)
      .where('requests.created_at', '<', until)
      .orderBy('reviews.at')
      .execute(),
    db
      .selectFrom('audit_events')
      .select(['seq', 'at', 'action', 'body'])
      .where('action', '=', BREAKGLASS_USE)
      .where('at', '>=', since)
      .where('at', '<', until)
      .orderBy('seq')
      .execute(),
    db
      .selectFrom('audit_events')
      .select(['seq', 'at', 'action', 'body'])
      .where('action', 'in', [...POSTMORTEM_ACTIONS])
      .where('at', '<', until)
      .orderBy('seq')
      .execute(),
    db
      .selectFrom('audit_events')
      .select((eb) => [
        eb.fn.countAll<number>().as('n'),
        eb.fn.min('seq').as('first'),
        eb.fn.max('seq').as('last'),
      ])
      .where('at', '>=', since)
      .where('at', '<', until)
      .where('body', 'is', null)
      .executeTakeFirst(),
    db
      .selectFrom('audit_events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('action', 'in', [...POSTMORTEM_ACTIONS])
      .where('at', '<', until)
      .where('body', 'is', null)
      .executeTakeFirst(),
  ]);
  const byRequest = new Map<string, ReportRequest['reviews']>();
  for (const v of reviews) {
    const list = byRequest.get(v.request_id) ?? [];
    list.push({ reviewer: v.reviewer, decision: v.decision, comment: v.comment, at: Number(v.at) });
    byRequest.set(v.request_id, list);
  }
  const requests: ReportRequest[] = rows.map((r) => {
    let tiers: string[] = [];
    try {
      const parsed = JSON.parse(r.tiers) as unknown;
      if (Array.isArray(parsed)) tiers = parsed.map(String);
    } catch {
      tiers = ['unknown'];
    }
    return {
      id: r.id,
      requester: r.requester,
      resource: r.resource,
      reason: r.reason,
      state: r.state,
      tiers,
      hasSlots: r.slots !== '[]',
      createdAt: Number(r.created_at),
      approvedAt: r.approved_at === null ? null : Number(r.approved_at),
      reviews: byRequest.get(r.id) ?? [],
    };
  });
  const event = (e: { seq: number; at: number; action: string; body: string | null }): ReportEvent => {
    const parsed = parseBody(e.body);
    return {
      seq: Number(e.seq),
      at: Number(e.at),
      action: e.action,
      resource: parsed?.resource ?? null,
      details: parsed?.details ?? null,
    };
  };
  const purgedCount = Number(purged?.n ?? 0);
  const purgedPm = Number(purgedPostmortems?.n ?? 0);
  return {
    requests,
    breakglass: breakglass.map(event),
    postmortems: postmortems.map(event),
    purged:
      purgedCount === 0 && purgedPm === 0
        ? null
        : {
            events: purgedCount,
            firstSeq: purgedCount === 0 ? null : Number(purged?.first),
            lastSeq: purgedCount === 0 ? null : Number(purged?.last),
            postmortemEvents: purgedPm,
          },
  };
}
