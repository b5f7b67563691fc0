import type { Kysely } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/**
 * The quarterly conversion of standing access (src/conversion): one row per standing grant being converted to a
 * just-in-time entitlement, with the step it reached. One open conversion per resource, principal and privilege
 * (`open_key`, NULL once completed or abandoned), on SQLite and across PostgreSQL servers alike. Numbered 0017:
 * 0013 to 0016 are other capabilities'.
 */
export function conversion(ctx: MigrationContext) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const instant = ctx.dialect === 'postgresql' ? 'bigint' : 'integer';
      await db.schema
        .createTable('conversions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('quarter', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('privilege', 'text', (c) => c.notNull())
        .addColumn('jit_role', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('open_key', 'text', (c) => c.unique())
        .addColumn('planned_by', 'text', (c) => c.notNull())
        .addColumn('planned_at', instant, (c) => c.notNull())
        .addColumn('entitled_at', instant)
        .addColumn('rule_ids', 'text')
        .addColumn('removed_at', instant)
        .addColumn('ended_at', instant)
        .addColumn('note', 'text')
        .execute();
      await db.schema.createIndex('conversions_quarter_idx').on('conversions').column('quarter').execute();
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}
