import type { Transaction } from 'kysely';
import type {
  RecordedSessionsTable,
  RecordingDatabase,
  RecordingDb,
  RecordingSegmentsTable,
  RecordingsTable,
} from './recording-tables.js';

type Db = RecordingDb | Transaction<RecordingDatabase>;

/** The rows of recorded sessions, their recordings and segments: the index of what storage holds. */
export const recordingStore = {
  async insertSession(db: Db, row: RecordedSessionsTable): Promise<void> {
    await db.insertInto('recorded_sessions').values(row).execute();
  },

  /** True when this call ended it (a session ends once, whichever server sees the end first). */
  async endSession(db: Db, id: string, at: number, reason: string): Promise<boolean> {
    const res = await db
      .updateTable('recorded_sessions')
      .set({ ended_at: at, end_reason: reason })
      .where('id', '=', id)
      .where('ended_at', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  },

  async heartbeat(db: Db, ids: readonly string[], at: number): Promise<void> {
    if (ids.length === 0) return;
    await db
      .updateTable('recorded_sessions')
      .set({ heartbeat_at: at })
      .where('id', 'in', [...ids])
      .where('ended_at', 'is', null)
      .execute();
  },

  async getSession(db: Db, id: string): Promise<RecordedSessionsTable | undefined> {
    return db.selectFrom('recorded_sessions').selectAll().where('id', '=', id).executeTakeFirst();
  },

  async listSessions(
    db: Db,
    q: { requestId?: string; limit: number; beforeStartedAt?: number },
  ): Promise<RecordedSessionsTable[]> {
    let query = db.selectFrom('recorded_sessions').selectAll();
    if (q.requestId) query = query.where('request_id', '=', q.requestId);
    if (q.beforeStartedAt !== undefined) query = query.where('started_at', '<', q.beforeStartedAt);
    return query.orderBy('started_at', 'desc').limit(q.limit).execute();
  },

  async insertRecording(db: Db, row: RecordingsTable): Promise<void> {
    await db.insertInto('recordings').values(row).execute();
  },

  async endRecording(
    db: Db,
    id: string,
    at: number,
    state: 'complete' | 'recovered' | 'failed',
  ): Promise<void> {
    await db
      .updateTable('recordings')
      .set({ ended_at: at, state })
      .where('id', '=', id)
      .where('state', '=', 'live')
      .execute();
  },

  async getRecording(db: Db, id: string): Promise<RecordingsTable | undefined> {
    return db.selectFrom('recordings').selectAll().where('id', '=', id).executeTakeFirst();
  },

  async recordingsOf(db: Db, sessionId: string): Promise<RecordingsTable[]> {
    return db
      .selectFrom('recordings')
      .selectAll()
      .where('session_id', '=', sessionId)
      .orderBy('started_at')
      .orderBy('channel')
      .execute();
  },

  async openSegment(db: Db, recordingId: string, idx: number, at: number): Promise<void> {
    await db
      .insertInto('recording_segments')
      .values({
        recording_id: recordingId,
        idx,
        state: 'open',
        sha256: null,
        bytes: null,
        recovered: 0,
        opened_at: at,
        sealed_at: null,
      })
      .execute();
  },

  /** True when this call sealed it: the one that does writes the audit event. */
  async sealSegment(
    db: Db,
    recordingId: string,
    idx: number,
    sealed: { sha256: string; bytes: number; recovered: boolean; at: number },
  ): Promise<boolean> {
    const res = await db
      .updateTable('recording_segments')
      .set({
        state: 'sealed',
        sha256: sealed.sha256,
        bytes: sealed.bytes,
        recovered: sealed.recovered ? 1 : 0,
        sealed_at: sealed.at,
      })
      .where('recording_id', '=', recordingId)
      .where('idx', '=', idx)
      .where('state', '=', 'open')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  },

  async segmentsOf(db: Db, recordingId: string): Promise<RecordingSegmentsTable[]> {
    return db
      .selectFrom('recording_segments')
      .selectAll()
      .where('recording_id', '=', recordingId)
      .orderBy('idx')
      .execute();
  },

  /** Open segments of recordings kept at `location` (a local folder's orphans are all of its open segments). */
  async openSegmentsAt(db: Db, location: string): Promise<{ recording_id: string; idx: number }[]> {
    return db
      .selectFrom('recording_segments as g')
      .innerJoin('recordings as r', 'r.id', 'g.recording_id')
      .select(['g.recording_id', 'g.idx'])
      .where('g.state', '=', 'open')
      .where('r.storage', '=', location)
      .execute();
  },
};
