import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/**
 * Recorded sessions (src/recording): one row per session through a Stint proxy, its recordings (one per terminal
 * channel) and their segments, each sealed with its SHA-256 (the same hash goes into the audit trail as a
 * `recording.segment` event); chunks hold segment bytes when recordings are kept in the store itself, so every
 * server of a deployment plays every recording. The review queue ("session reviews", never "reviews", which are
 * approvals) holds the sessions drawn for a person to watch, and the seed the draw is made with, so an auditor
 * holding it can re-draw any session.
 */
export function recordings(ctx: MigrationContext) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const pg = ctx.dialect === 'postgresql';
      const instant = pg ? 'bigint' : 'integer';
      const bytes = pg ? 'bytea' : 'blob';
      await db.schema
        .createTable('recorded_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('requester', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('sensitivity', 'text', (c) => c.notNull())
        .addColumn('protocol', 'text', (c) => c.notNull())
        .addColumn('account', 'text', (c) => c.notNull())
        .addColumn('client', 'text')
        .addColumn('server', 'text', (c) => c.notNull())
        .addColumn('started_at', instant, (c) => c.notNull())
        .addColumn('ended_at', instant)
        .addColumn('end_reason', 'text')
        .addColumn('heartbeat_at', instant, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('recorded_sessions_request_idx')
        .on('recorded_sessions')
        .column('request_id')
        .execute();
      await db.schema
        .createTable('recordings')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('session_id', 'text', (c) => c.notNull())
        .addColumn('channel', 'integer', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('command', 'text')
        .addColumn('storage', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('started_at', instant, (c) => c.notNull())
        .addColumn('ended_at', instant)
        .execute();
      await db.schema.createIndex('recordings_session_idx').on('recordings').column('session_id').execute();
      await db.schema
        .createTable('recording_segments')
        .addColumn('recording_id', 'text', (c) => c.notNull())
        .addColumn('idx', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('sha256', 'text')
        .addColumn('bytes', 'integer')
        .addColumn('recovered', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('opened_at', instant, (c) => c.notNull())
        .addColumn('sealed_at', instant)
        .addPrimaryKeyConstraint('recording_segments_pk', ['recording_id', 'idx'])
        .execute();
      await db.schema
        .createIndex('recording_segments_open_idx')
        .on('recording_segments')
        .column('state')
        .execute();
      await db.schema
        .createTable('recording_chunks')
        .addColumn('recording_id', 'text', (c) => c.notNull())
        .addColumn('segment', 'integer', (c) => c.notNull())
        .addColumn('n', 'integer', (c) => c.notNull())
        .addColumn('data', bytes, (c) => c.notNull())
        .addPrimaryKeyConstraint('recording_chunks_pk', ['recording_id', 'segment', 'n'])
        .execute();
      await db.schema
        .createTable('session_reviews')
        .addColumn('session_id', 'text', (c) => c.primaryKey())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('requester', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('reasons', 'text', (c) => c.notNull())
        .addColumn('draw', 'text', (c) => c.notNull())
        .addColumn('rate', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('created_at', instant, (c) => c.notNull())
        .addColumn('due_at', instant, (c) => c.notNull())
        .addColumn('verdict', 'text')
        .addColumn('notes', 'text')
        .addColumn('reviewer', 'text')
        .addColumn('completed_at', instant)
        .execute();
      await db.schema
        .createIndex('session_reviews_state_idx')
        .on('session_reviews')
        .column('state')
        .execute();
      await db.schema
        .createTable('session_review_seed')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('seed', 'text', (c) => c.notNull())
        .addColumn('created_at', instant, (c) => c.notNull())
        .execute();
      // The draw's seed is made once, here: secret from users (who could otherwise steer around the sample),
      // kept in the store for the auditors who re-draw.
      await sql`INSERT INTO session_review_seed (id, seed, created_at) VALUES (1, ${randomBytes(32).toString('hex')}, ${Date.now()})`.execute(
        db,
      );
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}
