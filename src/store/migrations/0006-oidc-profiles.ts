import type { Kysely } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/**
 * Directory facts taken from the OIDC provider's claims at each sign-in (STINT_OIDC_CLAIMS_DIRECTORY): one row
 * per person, replaced whole at every sign-in, so a later sign-in with other groups changes their teams.
 */
export function oidcProfiles(ctx: MigrationContext) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const instant = ctx.dialect === 'postgresql' ? 'bigint' : 'integer';
      await db.schema
        .createTable('oidc_profiles')
        .addColumn('user_id', 'text', (c) => c.primaryKey())
        .addColumn('email', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('manager', 'text')
        // Group names from the groups claim, JSON array text.
        .addColumn('groups', 'text', (c) => c.notNull())
        // Who the provider said this was (iss, sub): for operators tracing a record back to a sign-in.
        .addColumn('issuer', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('updated_at', instant, (c) => c.notNull())
        .execute();
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}
