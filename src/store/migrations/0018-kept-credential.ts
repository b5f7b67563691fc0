import type { Kysely } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/**
 * `grants.kept_enc`: the part of an issued credential Stint keeps for itself and never shows (the real role
 * password of a PostgreSQL grant used through the recording proxy), sealed like `credential_enc` but not cleared by
 * the take: only by the grant's end. Numbered 0018: 0013 to 0017 are other capabilities'.
 */
export function keptCredential(_ctx: MigrationContext) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('grants').addColumn('kept_enc', 'text').execute();
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}
