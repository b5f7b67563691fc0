import type { Kysely } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/**
 * Break-glass (src/breakglass). Exclusivity rests on primary keys and unique columns, so it holds on SQLite and
 * across PostgreSQL servers alike: one holder row per resource, one live seal per scope (`live_scope`, NULL once
 * retired), one open unseal attempt per seal (`open_seal`, NULL once ended), one postmortem per use
 * (`subject_ref`), one ingestion per offline record (its hash). Numbered 0014: 0013 is the notifier's.
 */
export function breakglass(ctx: MigrationContext) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const instant = ctx.dialect === 'postgresql' ? 'bigint' : 'integer';
      await db.schema
        .createTable('breakglass_holders')
        .addColumn('resource', 'text', (c) => c.primaryKey())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('holder', 'text', (c) => c.notNull())
        .addColumn('since', instant, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('breakglass_invocations')
        .addColumn('request_id', 'text', (c) => c.primaryKey())
        .addColumn('entry_id', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('holder', 'text', (c) => c.notNull())
        .addColumn('channels', 'text', (c) => c.notNull())
        .addColumn('invoked_seq', instant, (c) => c.notNull())
        .addColumn('invoked_at', instant, (c) => c.notNull())
        .addColumn('escalate_after_seconds', 'integer', (c) => c.notNull())
        .addColumn('escalation_level', 'integer', (c) => c.notNull())
        .addColumn('next_escalation_at', instant)
        .addColumn('acknowledged_at', instant)
        .addColumn('acknowledged_seq', instant)
        .addColumn('postmortem_owner', 'text', (c) => c.notNull())
        .addColumn('postmortem_due_seconds', 'integer', (c) => c.notNull())
        .addColumn('drill_id', 'text')
        .addColumn('handled_at', instant)
        .execute();
      await db.schema
        .createTable('breakglass_seals')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('live_scope', 'text', (c) => c.unique())
        .addColumn('label', 'text', (c) => c.notNull())
        .addColumn('threshold', 'integer', (c) => c.notNull())
        .addColumn('officers', 'text', (c) => c.notNull())
        .addColumn('sealed', 'text', (c) => c.notNull())
        .addColumn('record_key', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('uses', 'integer', (c) => c.notNull())
        .addColumn('rotation_reason', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', instant, (c) => c.notNull())
        .addColumn('retired_at', instant)
        .execute();
      await db.schema
        .createTable('breakglass_unseals')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('seal_id', 'text', (c) => c.notNull())
        .addColumn('open_seal', 'text', (c) => c.unique())
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('opened_by', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('given', 'text', (c) => c.notNull())
        .addColumn('shares_enc', 'text')
        .addColumn('bad_shares', 'integer', (c) => c.notNull())
        .addColumn('opened_at', instant, (c) => c.notNull())
        .addColumn('expires_at', instant, (c) => c.notNull())
        .addColumn('ended_at', instant)
        .addColumn('secret_enc', 'text')
        .execute();
      await db.schema
        .createTable('breakglass_offline_records')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('seal_id', 'text')
        .addColumn('file', 'text', (c) => c.notNull())
        .addColumn('accepted', 'integer', (c) => c.notNull())
        .addColumn('ingested_at', instant, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('breakglass_postmortems')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('subject_ref', 'text', (c) => c.notNull().unique())
        .addColumn('request_id', 'text')
        .addColumn('seal_id', 'text')
        .addColumn('resource', 'text')
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('due_at', instant, (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('classification', 'text')
        .addColumn('root_cause', 'text')
        .addColumn('follow_ups', 'text', (c) => c.notNull())
        .addColumn('timeline', 'text', (c) => c.notNull())
        .addColumn('opened_at', instant, (c) => c.notNull())
        .addColumn('closed_at', instant)
        .addColumn('closed_by', 'text')
        .addColumn('last_reminded_at', instant)
        .addColumn('last_overdue_at', instant)
        .execute();
      await db.schema
        .createIndex('breakglass_postmortems_open_idx')
        .on('breakglass_postmortems')
        .columns(['state', 'due_at'])
        .execute();
      await db.schema
        .createTable('breakglass_drills')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('started_by', 'text', (c) => c.notNull())
        .addColumn('started_at', instant, (c) => c.notNull())
        .addColumn('finished_at', instant)
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('steps', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text')
        .execute();
      await db.schema
        .createTable('breakglass_drill_schedule')
        .addColumn('resource', 'text', (c) => c.primaryKey())
        .addColumn('since', instant, (c) => c.notNull())
        .addColumn('officers_changed_at', instant)
        .addColumn('last_alert_at', instant)
        .execute();
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}
