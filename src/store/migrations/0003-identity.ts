import type { Kysely } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/**
 * Identity: sign-in sessions (portal cookie or CLI bearer), the ID-token nonces already used (so a captured
 * token cannot be exchanged twice), and scopes on API tokens. Scopes are NULL for the full-power tokens that
 * `stint admin token create` makes without any, as before this migration.
 */
export function identity(ctx: MigrationContext) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const instant = ctx.dialect === 'postgresql' ? 'bigint' : 'integer';
      await db.schema.alterTable('api_tokens').addColumn('scopes', 'text').execute();

      await db.schema
        .createTable('sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        // SHA-256 of the session secret: the secret itself is only in the cookie or the CLI's token file.
        .addColumn('hash', 'text', (c) => c.notNull())
        // 'oidc' (portal cookie) or 'cli' (bearer from an ID-token exchange).
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('created_at', instant, (c) => c.notNull())
        .addColumn('expires_at', instant, (c) => c.notNull())
        .addColumn('revoked_at', instant)
        // When the provider says a second factor was used (auth_time with an MFA amr/acr), else NULL.
        .addColumn('mfa_at', instant)
        .execute();
      await db.schema.createIndex('sessions_user_idx').on('sessions').columns(['user_id']).execute();

      await db.schema
        .createTable('id_token_nonces')
        // SHA-256 of issuer and nonce: kept until the ID token carrying it has expired.
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('expires_at', instant, (c) => c.notNull())
        .execute();
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}
