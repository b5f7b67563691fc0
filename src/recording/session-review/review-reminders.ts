import type { AuditWriter } from '../../audit/audit-writer.js';
import type { Clock } from '../../domain/clock.js';
import { SYSTEM_ACTOR } from '../../domain/state-machine.js';
import { asStoreTx, type RecordingDb } from '../recording-tables.js';

/** How long before its due date a queued review is announced as due soon. */
export const DUE_SOON_MS = 24 * 60 * 60 * 1000;
const BATCH = 100;

type Kind = 'due_soon' | 'overdue';

/**
 * Reminders of queued session reviews are audit events (`session_review.due_soon` a day before the due date,
 * `session_review.overdue` once it has passed), routed by the notify module to the security audience and to the
 * claimant, if any. Each is written once per review across servers: the marker column and the event commit
 * together, and only the server whose update set the marker writes the event. A review drawn less than a day
 * before it is due gets no due-soon reminder (it would announce itself at birth); one already overdue when first
 * seen gets only the overdue one.
 */
export function createReviewReminders(deps: { db: RecordingDb; audit: AuditWriter; clock: Clock }) {
  const { db } = deps;

  async function due(kind: Kind, now: number) {
    const query = db
      .selectFrom('session_reviews')
      .selectAll()
      .where('state', '=', 'queued')
      .where(kind === 'due_soon' ? 'due_soon_sent_at' : 'overdue_sent_at', 'is', null)
      .orderBy('due_at')
      .limit(BATCH);
    if (kind === 'overdue') return query.where('due_at', '<=', now).execute();
    return query
      .where('due_at', '>', now)
      .where('due_at', '<=', now + DUE_SOON_MS)
      .where((eb) => eb('created_at', '<', eb('due_at', '-', DUE_SOON_MS)))
      .execute();
  }

  async function remind(kind: Kind, signal: AbortSignal): Promise<number> {
    const at = deps.clock();
    const now = at.getTime();
    const marker = kind === 'due_soon' ? 'due_soon_sent_at' : 'overdue_sent_at';
    let written = 0;
    for (const row of await due(kind, now)) {
      if (signal.aborted) break;
      const mine = await db.transaction().execute(async (trx) => {
        const res = await trx
          .updateTable('session_reviews')
          .set({ [marker]: now })
          .where('session_id', '=', row.session_id)
          .where('state', '=', 'queued')
          .where(marker, 'is', null)
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) !== 1) return false;
        await deps.audit.append(asStoreTx(trx), {
          at,
          actor: SYSTEM_ACTOR,
          action: `session_review.${kind}`,
          requestId: row.request_id,
          target: { resource: row.resource },
          details: {
            sessionId: row.session_id,
            requester: row.requester,
            dueAt: new Date(Number(row.due_at)).toISOString(),
            claimant: row.claimed_by,
            ...(row.claimed_by ? { notify: [row.claimed_by] } : {}),
          },
        });
        return true;
      });
      if (mine) written += 1;
    }
    return written;
  }

  return {
    /** Writes the reminders that are due now; answers how many. */
    async sweep(signal: AbortSignal): Promise<number> {
      return (await remind('overdue', signal)) + (await remind('due_soon', signal));
    },
  };
}
