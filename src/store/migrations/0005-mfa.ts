import type { Kysely } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/** Step-up MFA: TOTP secrets (sealed), WebAuthn credentials, single-use challenges, failures and step-ups. */
export function mfa(ctx: MigrationContext) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const instant = ctx.dialect === 'postgresql' ? 'bigint' : 'integer';
      await db.schema
        .createTable('mfa_totp')
        .addColumn('user_id', 'text', (c) => c.primaryKey())
        .addColumn('secret_enc', 'text', (c) => c.notNull())
        .addColumn('created_at', instant, (c) => c.notNull())
        .addColumn('confirmed_at', instant)
        .addColumn('last_step', instant)
        .execute();

      await db.schema
        .createTable('webauthn_credentials')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('counter', instant, (c) => c.notNull())
        .addColumn('transports', 'text', (c) => c.notNull())
        .addColumn('created_at', instant, (c) => c.notNull())
        .addColumn('last_used_at', instant)
        .execute();
      await db.schema
        .createIndex('webauthn_credentials_user_idx')
        .on('webauthn_credentials')
        .column('user_id')
        .execute();

      await db.schema
        .createTable('webauthn_challenges')
        .addColumn('challenge', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('expires_at', instant, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('mfa_failures')
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('at', instant, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('mfa_failures_user_idx')
        .on('mfa_failures')
        .columns(['user_id', 'at'])
        .execute();

      await db.schema
        .createTable('mfa_verifications')
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('verified_at', instant, (c) => c.notNull())
        .addColumn('credential_id', 'text')
        .execute();
      await db.schema
        .createIndex('mfa_verifications_user_idx')
        .on('mfa_verifications')
        .columns(['user_id', 'verified_at'])
        .execute();
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}
