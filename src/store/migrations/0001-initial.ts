import type { Kysely } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/** Released migrations are never edited; add a new file instead. */
export function initial(ctx: MigrationContext) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const instant = ctx.dialect === 'postgresql' ? 'bigint' : 'integer';
      await db.schema
        .createTable('requests')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('requester', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('duration_seconds', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('policy_version', 'text', (c) => c.notNull())
        .addColumn('rule_id', 'text', (c) => c.notNull())
        .addColumn('tiers', 'text', (c) => c.notNull())
        .addColumn('slots', 'text', (c) => c.notNull())
        .addColumn('created_at', instant, (c) => c.notNull())
        .addColumn('pending_until', instant, (c) => c.notNull())
        .addColumn('approved_at', instant)
        .addColumn('activated_at', instant)
        .addColumn('expires_at', instant)
        .addColumn('ended_at', instant)
        .addColumn('ended_by', 'text')
        .addColumn('end_reason', 'text')
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('issue_claimed_until', instant)
        .execute();
      await db.schema
        .createIndex('requests_state_idx')
        .on('requests')
        .columns(['state', 'expires_at'])
        .execute();
      await db.schema
        .createIndex('requests_requester_idx')
        .on('requests')
        .columns(['requester', 'created_at'])
        .execute();

      await db.schema
        .createTable('reviews')
        .addColumn('request_id', 'text', (c) => c.notNull().references('requests.id'))
        .addColumn('reviewer', 'text', (c) => c.notNull())
        .addColumn('decision', 'text', (c) => c.notNull())
        .addColumn('comment', 'text', (c) => c.notNull())
        .addColumn('at', instant, (c) => c.notNull())
        // A person counts once per request, enforced by the database as well as the domain.
        .addPrimaryKeyConstraint('reviews_pk', ['request_id', 'reviewer'])
        .execute();

      await db.schema
        .createTable('grants')
        .addColumn('request_id', 'text', (c) => c.primaryKey().references('requests.id'))
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('credential_enc', 'text')
        .addColumn('credential_shown_at', instant)
        .addColumn('revocation', 'text', (c) => c.notNull())
        .addColumn('revoke_attempts', 'integer', (c) => c.notNull())
        .addColumn('next_revoke_at', instant)
        .addColumn('revoke_error', 'text')
        .addColumn('revoked_at', instant)
        .addColumn('created_at', instant, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('grants_revocation_idx')
        .on('grants')
        .columns(['revocation', 'next_revoke_at'])
        .execute();

      await db.schema
        .createTable('api_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('created_at', instant, (c) => c.notNull())
        .addColumn('expires_at', instant)
        .addColumn('revoked_at', instant)
        .addColumn('last_used_at', instant)
        .execute();
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}
