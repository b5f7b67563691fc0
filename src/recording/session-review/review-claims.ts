import type { AuditWriter } from '../../audit/audit-writer.js';
import type { Actor } from '../../domain/actor.js';
import type { Clock } from '../../domain/clock.js';
import { StintError } from '../../domain/errors.js';
import type { StintDatabase } from '../../store/database.js';
import type { RequestStore } from '../../store/request-store.js';
import { recordingStore } from '../recording-store.js';
import { asStoreTx, type RecordingDb } from '../recording-tables.js';
import { assertMayJudge, assertWatcher, queuedReview } from './review-rules.js';
import { reviewView } from './review-views.js';

/**
 * Claiming a queued session review: one reviewer at a time says "mine", so two people do not watch the same
 * hour-long session, and the queue shows who has what. Claiming takes the verdict's rules (a watcher, not the
 * session's user, not an approver of its request); a claimed review takes its verdict from the claimant only.
 * Each claim and release is audited in its transaction (`session_review.claimed`, `session_review.released`).
 */
export function createReviewClaims(deps: {
  store: StintDatabase;
  db: RecordingDb;
  requests: Pick<RequestStore, 'get'>;
  audit: AuditWriter;
  clock: Clock;
}) {
  const { db } = deps;

  return {
    async claim(actor: Actor, sessionId: string) {
      assertWatcher(actor, 'claim session reviews');
      const session = await recordingStore.getSession(db, sessionId);
      if (!session) throw new StintError('NOT_FOUND', `session ${sessionId} not found`);
      await assertMayJudge(deps, actor, session, 'claim the review of a session');
      const now = deps.clock();
      return db.transaction().execute(async (trx) => {
        const row = await queuedReview(trx, sessionId);
        // Claiming one's own claim again changes nothing and writes nothing.
        if (row.claimed_by === actor.userId) return reviewView(row, now.getTime());
        if (row.claimed_by !== null)
          throw new StintError(
            'SESSION_REVIEW_CLAIMED',
            `session ${sessionId} is claimed by ${row.claimed_by}`,
          );
        const res = await trx
          .updateTable('session_reviews')
          .set({ claimed_by: actor.userId, claimed_at: now.getTime() })
          .where('session_id', '=', sessionId)
          .where('state', '=', 'queued')
          .where('claimed_by', 'is', null)
          .executeTakeFirst();
        // Another claim (or the verdict) committed between the read and this write: theirs stands.
        if (Number(res.numUpdatedRows) !== 1)
          throw new StintError('SESSION_REVIEW_CLAIMED', `session ${sessionId} was claimed by someone else`);
        await deps.audit.append(asStoreTx(trx), {
          at: now,
          actor: actor.userId,
          action: 'session_review.claimed',
          requestId: session.request_id,
          target: { resource: session.resource },
          details: { sessionId, dueAt: new Date(Number(row.due_at)).toISOString() },
          ...(actor.source ? { source: actor.source } : {}),
        });
        return reviewView({ ...row, claimed_by: actor.userId, claimed_at: now.getTime() }, now.getTime());
      });
    },

    /**
     * Gives a claim back to the queue: by its claimant, or by a member of the security team (a claimant who left or
     * went quiet must not hold a session out of review); the claimant is told when it was not them.
     */
    async release(actor: Actor, sessionId: string) {
      assertWatcher(actor, 'release session reviews');
      const session = await recordingStore.getSession(db, sessionId);
      if (!session) throw new StintError('NOT_FOUND', `session ${sessionId} not found`);
      const now = deps.clock();
      return db.transaction().execute(async (trx) => {
        const row = await queuedReview(trx, sessionId);
        const claimant = row.claimed_by;
        if (claimant === null)
          throw new StintError('INVALID_TRANSITION', `session ${sessionId} is not claimed`);
        if (claimant !== actor.userId && !actor.security)
          throw new StintError(
            'FORBIDDEN',
            `session ${sessionId} is claimed by ${claimant}: only they or security may release it`,
          );
        const res = await trx
          .updateTable('session_reviews')
          .set({ claimed_by: null, claimed_at: null })
          .where('session_id', '=', sessionId)
          .where('state', '=', 'queued')
          .where('claimed_by', '=', claimant)
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) !== 1)
          throw new StintError('CONCURRENT_UPDATE', `session ${sessionId} changed meanwhile: read it again`);
        await deps.audit.append(asStoreTx(trx), {
          at: now,
          actor: actor.userId,
          action: 'session_review.released',
          requestId: session.request_id,
          target: { resource: session.resource },
          details: {
            sessionId,
            claimant,
            ...(claimant !== actor.userId ? { notify: [claimant] } : {}),
          },
          ...(actor.source ? { source: actor.source } : {}),
        });
        return reviewView({ ...row, claimed_by: null, claimed_at: null }, now.getTime());
      });
    },
  };
}

export type ReviewClaims = ReturnType<typeof createReviewClaims>;
