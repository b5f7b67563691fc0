import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/**
 * Notifications read the audit trail as their outbox. `notify_cursors` holds the last seq each reader routed,
 * starting at the trail's head when this migration runs (what was recorded before is not announced). Routing
 * writes one `notify_deliveries` row per event and channel, in the transaction that advances the cursor; its id
 * is derived from the event and the channel, so receivers de-duplicate on it. `notify_reminders` marks the
 * reminders already recorded (one per request and kind, across servers); `notify_keys` holds the
 * acknowledgement key, sealed with the server's encryption key.
 */
export function notifications(ctx: MigrationContext) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const instant = ctx.dialect === 'postgresql' ? 'bigint' : 'integer';
      await db.schema
        .createTable('notify_cursors')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('seq', instant, (c) => c.notNull())
        .addColumn('updated_at', instant, (c) => c.notNull())
        .execute();
      await sql`INSERT INTO notify_cursors (name, seq, updated_at) SELECT 'notify', size - 1, 0 FROM audit_head WHERE id = 1`.execute(
        db,
      );
      await db.schema
        .createTable('notify_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('event_seq', instant, (c) => c.notNull())
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text')
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('audiences', 'text', (c) => c.notNull())
        .addColumn('recipients', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', instant, (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('claim', 'text')
        .addColumn('claimed_until', instant)
        .addColumn('created_at', instant, (c) => c.notNull())
        .addColumn('delivered_at', instant)
        .addColumn('acknowledged_at', instant)
        .addColumn('acknowledged_by', 'text')
        .execute();
      await db.schema
        .createIndex('notify_deliveries_due_idx')
        .on('notify_deliveries')
        .columns(['status', 'channel', 'next_attempt_at'])
        .execute();
      await db.schema
        .createIndex('notify_deliveries_event_idx')
        .on('notify_deliveries')
        .column('event_seq')
        .execute();
      await db.schema
        .createTable('notify_reminders')
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('at', instant, (c) => c.notNull())
        .addPrimaryKeyConstraint('notify_reminders_pk', ['subject', 'kind'])
        .execute();
      await db.schema
        .createTable('notify_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('sealed', 'text', (c) => c.notNull())
        .addColumn('created_at', instant, (c) => c.notNull())
        .execute();
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}
