import type { Kysely } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/**
 * Who may change second factors: when the identity provider last authenticated the person of a session
 * (`auth_time`, so enrolling a first factor can ask for a fresh sign-in), and factor resets an admin asks for
 * and a second person from security confirms.
 */
export function factorChanges(ctx: MigrationContext) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const instant = ctx.dialect === 'postgresql' ? 'bigint' : 'integer';
      await db.schema.alterTable('sessions').addColumn('auth_at', instant).execute();
      await db.schema
        .createTable('mfa_resets')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('requested_by', 'text', (c) => c.notNull())
        .addColumn('requested_at', instant, (c) => c.notNull())
        .addColumn('expires_at', instant, (c) => c.notNull())
        .addColumn('confirmed_by', 'text')
        .addColumn('confirmed_at', instant)
        .execute();
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}
