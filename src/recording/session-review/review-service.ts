import { createHash } from 'node:crypto';
import { listAudit } from '../../audit/audit-store.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import type { Actor } from '../../domain/actor.js';
import type { Clock } from '../../domain/clock.js';
import { StintError } from '../../domain/errors.js';
import type { StintDatabase } from '../../store/database.js';
import type { RequestStore } from '../../store/request-store.js';
import { recordingStore } from '../recording-store.js';
import { asStoreTx, type RecordingDb } from '../recording-tables.js';
import type { RecordingStorage } from '../storage/recording-storage.js';
import { assertMayJudge, assertWatcher, queuedReview } from './review-rules.js';
import { type RecordingView, recordingView, reviewView, sessionView, type Verdict } from './review-views.js';

export function createSessionReviewService(deps: {
  store: StintDatabase;
  db: RecordingDb;
  requests: Pick<RequestStore, 'get'>;
  audit: AuditWriter;
  clock: Clock;
  storage: RecordingStorage;
}) {
  const { db } = deps;

  async function sessionOr404(id: string) {
    const session = await recordingStore.getSession(db, id);
    if (!session) throw new StintError('NOT_FOUND', `session ${id} not found`);
    return session;
  }

  /** The hash of each sealed segment of a recording, as its `recording.segment` audit events say. */
  async function trailHashes(requestId: string, recordingId: string): Promise<Map<number, string>> {
    const events = await listAudit(deps.store.db, { requestId, limit: 100_000 });
    const out = new Map<number, string>();
    for (const e of events) {
      const d = e.details as { recordingId?: string; segment?: number; sha256?: string };
      if (
        e.action === 'recording.segment' &&
        d.recordingId === recordingId &&
        typeof d.segment === 'number'
      ) {
        out.set(d.segment, String(d.sha256));
      }
    }
    return out;
  }

  return {
    async queue(actor: Actor, q: { state: 'queued' | 'completed' | 'all'; limit: number }) {
      assertWatcher(actor, 'read the session review queue');
      let query = db.selectFrom('session_reviews').selectAll();
      if (q.state !== 'all') query = query.where('state', '=', q.state);
      const rows = await query.orderBy('due_at').limit(q.limit).execute();
      const now = deps.clock().getTime();
      return rows.map((r) => reviewView(r, now));
    },

    async sessions(actor: Actor, q: { requestId?: string; limit: number }) {
      assertWatcher(actor, 'list recorded sessions');
      const rows = await recordingStore.listSessions(db, q);
      return rows.map(sessionView);
    },

    async session(actor: Actor, id: string) {
      assertWatcher(actor, 'read recorded sessions');
      const session = await sessionOr404(id);
      const recordings: RecordingView[] = [];
      for (const r of await recordingStore.recordingsOf(db, id)) {
        recordings.push(recordingView(r, await recordingStore.segmentsOf(db, r.id)));
      }
      const review = await db
        .selectFrom('session_reviews')
        .selectAll()
        .where('session_id', '=', id)
        .executeTakeFirst();
      return {
        session: sessionView(session),
        recordings,
        review: review ? reviewView(review, deps.clock().getTime()) : null,
      };
    },

    /**
     * The recording as one text: asciicast v2, or JSON lines for a PostgreSQL statement log (`pg-query-log`). Every sealed segment is hashed as it is read and must match the hash
     * its `recording.segment` audit event holds (the trail, not the row beside the file, is what is signed): an
     * altered or missing segment is refused, never served. A live recording's open segment follows, unchecked.
     */
    async cast(actor: Actor, recordingId: string): Promise<{ text: string; state: string; type: string }> {
      assertWatcher(actor, 'play session recordings');
      const recording = await recordingStore.getRecording(db, recordingId);
      if (!recording) throw new StintError('NOT_FOUND', `recording ${recordingId} not found`);
      if (recording.storage !== deps.storage.location) {
        throw new StintError(
          'NOT_FOUND',
          `recording ${recordingId} is kept at ${recording.storage}: play it on the server that keeps it`,
        );
      }
      const session = await sessionOr404(recording.session_id);
      const hashes = await trailHashes(session.request_id, recordingId);
      const parts: Buffer[] = [];
      for (const segment of await recordingStore.segmentsOf(db, recordingId)) {
        const data = await deps.storage.read(recordingId, segment.idx);
        if (segment.state === 'sealed') {
          const sha256 = createHash('sha256').update(data).digest('hex');
          const expected = hashes.get(segment.idx);
          if (expected === undefined || expected !== sha256) {
            throw new StintError(
              'INTERNAL',
              `recording ${recordingId} segment ${segment.idx} does not match its hash in the audit trail: it was altered or lost`,
            );
          }
        }
        parts.push(data);
      }
      return { text: Buffer.concat(parts).toString('utf8'), state: recording.state, type: recording.type };
    },

    /**
     * A verdict on a queued session: by security or an auditor who neither made the session nor approved its
     * request. Written with its audit event (`session_review.completed`) in one transaction; once only.
     */
    async complete(actor: Actor, sessionId: string, input: { verdict: Verdict; notes: string }) {
      assertWatcher(actor, 'review sessions');
      const session = await sessionOr404(sessionId);
      await assertMayJudge(deps, actor, session, 'review a session');
      const now = deps.clock();
      return db.transaction().execute(async (trx) => {
        const row = await queuedReview(trx, sessionId);
        if (row.claimed_by !== null && row.claimed_by !== actor.userId)
          throw new StintError(
            'SESSION_REVIEW_CLAIMED',
            `session ${sessionId} is claimed by ${row.claimed_by}`,
          );
        const res = await trx
          .updateTable('session_reviews')
          .set({
            state: 'completed',
            verdict: input.verdict,
            notes: input.notes,
            reviewer: actor.userId,
            completed_at: now.getTime(),
          })
          .where('session_id', '=', sessionId)
          .where('state', '=', 'queued')
          .where((eb) => eb.or([eb('claimed_by', 'is', null), eb('claimed_by', '=', actor.userId)]))
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) !== 1)
          throw new StintError('ALREADY_REVIEWED', `session ${sessionId} was reviewed already`);
        await deps.audit.append(asStoreTx(trx), {
          at: now,
          actor: actor.userId,
          action: 'session_review.completed',
          requestId: session.request_id,
          target: { resource: session.resource },
          details: {
            sessionId,
            verdict: input.verdict,
            notes: input.notes,
            reasons: JSON.parse(row.reasons),
          },
          ...(actor.source ? { source: actor.source } : {}),
        });
        return reviewView(
          {
            ...row,
            state: 'completed',
            verdict: input.verdict,
            notes: input.notes,
            reviewer: actor.userId,
            completed_at: now.getTime(),
          },
          now.getTime(),
        );
      });
    },
  };
}

export type SessionReviewService = ReturnType<typeof createSessionReviewService>;
