import { createHash } from 'node:crypto';
import type { Clock } from '../../domain/clock.js';
import type { RecordingDb } from '../recording-tables.js';
import {
  checkRecordingId,
  type RecordingStorage,
  RecordingWriteError,
  type SealedSegment,
  type SegmentRef,
} from './recording-storage.js';

/** A proxy refreshes its sessions' heartbeat this often; three missed beats mean it is gone. */
export const STALE_AFTER_MS = 30_000;

/**
 * Recordings in the store itself: each flush is a row of `recording_chunks`, so every server sharing the store
 * (PostgreSQL, several servers) reads every recording, and a recording outlives the server that made it. Sealing
 * reads the chunks back and hashes them. Orphans are open segments whose session's proxy stopped beating.
 */
export function createStoreStorage(db: RecordingDb, clock: Clock): RecordingStorage {
  /** The next chunk number of each segment this process writes; read from the store when first needed. */
  const next = new Map<string, number>();
  const key = (id: string, segment: number) => `${id}/${segment}`;

  async function chunks(recordingId: string, segment: number) {
    return db
      .selectFrom('recording_chunks')
      .select(['n', 'data'])
      .where('recording_id', '=', recordingId)
      .where('segment', '=', segment)
      .orderBy('n')
      .execute();
  }

  return {
    location: 'store',
    async start() {},
    async stop() {},

    async append(recordingId, segment, data) {
      checkRecordingId(recordingId);
      const k = key(recordingId, segment);
      try {
        let n = next.get(k);
        if (n === undefined) {
          const row = await db
            .selectFrom('recording_chunks')
            .select((eb) => eb.fn.max('n').as('n'))
            .where('recording_id', '=', recordingId)
            .where('segment', '=', segment)
            .executeTakeFirst();
          n = row?.n === null || row?.n === undefined ? 0 : Number(row.n) + 1;
        }
        await db
          .insertInto('recording_chunks')
          .values({ recording_id: recordingId, segment, n, data })
          .execute();
        next.set(k, n + 1);
      } catch (e) {
        throw new RecordingWriteError(`cannot write recording ${recordingId}: ${(e as Error).message}`);
      }
    },

    async seal(recordingId, segment, opts = {}): Promise<SealedSegment> {
      next.delete(key(recordingId, segment));
      const rows = await chunks(recordingId, segment);
      let data = Buffer.concat(rows.map((r) => Buffer.from(r.data)));
      if (opts.recover) {
        const end = data.lastIndexOf(0x0a) + 1;
        if (end < data.length) {
          // Keep whole lines only: the chunks after the cut go, the one it falls in is cut.
          data = data.subarray(0, end);
          let offset = 0;
          for (const row of rows) {
            const size = Buffer.from(row.data).length;
            const keep = Math.max(0, Math.min(size, end - offset));
            if (keep < size) {
              const chunk = db
                .updateTable('recording_chunks')
                .where('recording_id', '=', recordingId)
                .where('segment', '=', segment)
                .where('n', '=', row.n);
              if (keep === 0) {
                await db
                  .deleteFrom('recording_chunks')
                  .where('recording_id', '=', recordingId)
                  .where('segment', '=', segment)
                  .where('n', '=', row.n)
                  .execute();
              } else await chunk.set({ data: Buffer.from(row.data).subarray(0, keep) }).execute();
            }
            offset += size;
          }
        }
      }
      return { sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
    },

    async read(recordingId, segment) {
      return Buffer.concat((await chunks(recordingId, segment)).map((r) => Buffer.from(r.data)));
    },

    async orphans(): Promise<SegmentRef[]> {
      const rows = await db
        .selectFrom('recording_segments as g')
        .innerJoin('recordings as r', 'r.id', 'g.recording_id')
        .innerJoin('recorded_sessions as s', 's.id', 'r.session_id')
        .select(['g.recording_id', 'g.idx'])
        .where('g.state', '=', 'open')
        .where('r.storage', '=', 'store')
        .where('s.heartbeat_at', '<', clock().getTime() - STALE_AFTER_MS)
        .execute();
      return rows.map((r) => ({ recordingId: r.recording_id, segment: r.idx }));
    },
  };
}
