import type { Kysely } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/**
 * Session review claims and reminders (src/recording/session-review): who is working on a queued session now and
 * since when (one claimant at a time), and when its `session_review.due_soon` and `session_review.overdue`
 * reminders were written, so each is written once across servers. Nullable columns only: no data changes.
 */
export function sessionReviewClaims(ctx: MigrationContext) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const instant = ctx.dialect === 'postgresql' ? 'bigint' : 'integer';
      // One column per statement: SQLite's ALTER TABLE adds one at a time.
      await db.schema.alterTable('session_reviews').addColumn('claimed_by', 'text').execute();
      await db.schema.alterTable('session_reviews').addColumn('claimed_at', instant).execute();
      await db.schema.alterTable('session_reviews').addColumn('due_soon_sent_at', instant).execute();
      await db.schema.alterTable('session_reviews').addColumn('overdue_sent_at', instant).execute();
      await db.schema
        .createIndex('session_reviews_due_idx')
        .on('session_reviews')
        .columns(['state', 'due_at'])
        .execute();
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}
