import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/**
 * Counted limits in the store (store/attempt-limit.ts): one row per attempt, taken before the secret it carries
 * is checked. The second-factor failures (`mfa_failures`, 0005) move here, keyed `mfa:<user>`; that table goes.
 */
export function countedAttempts(ctx: MigrationContext) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const instant = ctx.dialect === 'postgresql' ? 'bigint' : 'integer';
      await db.schema
        .createTable('counted_attempts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('at', instant, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('counted_attempts_key_idx')
        .on('counted_attempts')
        .columns(['key', 'at'])
        .execute();
      // Failures still inside their window keep counting across the upgrade.
      const id =
        ctx.dialect === 'postgresql'
          ? sql`md5(random()::text || clock_timestamp()::text)`
          : sql`lower(hex(randomblob(16)))`;
      await sql`INSERT INTO counted_attempts (id, key, at) SELECT ${id}, 'mfa:' || user_id, at FROM mfa_failures`.execute(
        db,
      );
      await db.schema.dropTable('mfa_failures').execute();
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}
