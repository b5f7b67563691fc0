import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/**
 * API tokens an operator made or revoked on the server host (`stint admin token create|revoke`) say so, as
 * host-made sessions do (0011): who ran the command, on which host, and when the server wrote the audit event
 * announcing it (NULL until then). The command holds no audit key, so the server announces: at the token's
 * first use, before it acts, or from the identity module's sweep when nobody uses it. Unscoped tokens made before
 * this migration were made by that command only (src/auth/token-store.ts), so they are marked as made by an
 * unknown operator and announced like new ones.
 */
export function hostTokens(ctx: MigrationContext) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const instant = ctx.dialect === 'postgresql' ? 'bigint' : 'integer';
      // One column per statement: SQLite's ALTER TABLE adds one at a time.
      await db.schema.alterTable('api_tokens').addColumn('host_made_by', 'text').execute();
      await db.schema.alterTable('api_tokens').addColumn('host_name', 'text').execute();
      await db.schema.alterTable('api_tokens').addColumn('host_announced_at', instant).execute();
      await db.schema.alterTable('api_tokens').addColumn('host_revoked_by', 'text').execute();
      await db.schema.alterTable('api_tokens').addColumn('host_revoked_on', 'text').execute();
      await db.schema.alterTable('api_tokens').addColumn('host_revoke_announced_at', instant).execute();
      await sql`UPDATE api_tokens SET host_made_by = '(unknown: made before host tokens were recorded)', host_name = '(unknown)' WHERE scopes IS NULL`.execute(
        db,
      );
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}
