import type { Kysely } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/**
 * What the operations reports read by period (src/report/, src/evidence/): requests by when they were made, and
 * audit events by action and time (break-glass uses and postmortems are found by their action's name). Indexes
 * only: no data changes.
 */
export function operationsIndexes(_ctx: MigrationContext) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.createIndex('requests_created_idx').on('requests').columns(['created_at']).execute();
      await db.schema
        .createIndex('audit_action_at_idx')
        .on('audit_events')
        .columns(['action', 'at'])
        .execute();
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}
