import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/**
 * Sessions an operator made on the server host (`stint admin session create`) say so: who ran the command, on
 * which host, and when the server wrote the audit event announcing it (NULL until then; the session acts on
 * nothing before). Sessions made by that command before this migration (source 'cli') are marked too, by an
 * unknown operator, so they are announced at their next use like new ones. An API token minted with a host-made
 * session names it, so what is done with the token is marked as well.
 */
export function hostSessions(ctx: MigrationContext) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const instant = ctx.dialect === 'postgresql' ? 'bigint' : 'integer';
      await db.schema.alterTable('sessions').addColumn('host_made_by', 'text').execute();
      await db.schema.alterTable('sessions').addColumn('host_name', 'text').execute();
      await db.schema.alterTable('sessions').addColumn('host_announced_at', instant).execute();
      await db.schema.alterTable('api_tokens').addColumn('host_session', 'text').execute();
      await sql`UPDATE sessions SET host_made_by = '(unknown: made before host sessions were recorded)', host_name = '(unknown)' WHERE source = 'cli'`.execute(
        db,
      );
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}
