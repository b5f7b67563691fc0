import type { Kysely } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/**
 * Idempotency keys (draft-ietf-httpapi-idempotency-key-header): one row per caller and key, holding what the
 * first request was (method, path, body fingerprint) and, once it succeeded, its answer — sealed, since some
 * answers carry a secret shown once. Workflow changes write the answer in their own transaction, so a change
 * that committed as the store died is found, answered, on retry.
 */
export function idempotencyKeys(ctx: MigrationContext) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const instant = ctx.dialect === 'postgresql' ? 'bigint' : 'integer';
      await db.schema
        .createTable('idempotency_keys')
        .addColumn('caller', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempt', 'text', (c) => c.notNull())
        .addColumn('locked_until', instant, (c) => c.notNull())
        .addColumn('status', 'integer')
        .addColumn('response_enc', 'text')
        .addColumn('created_at', instant, (c) => c.notNull())
        .addColumn('expires_at', instant, (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_keys_pk', ['caller', 'key'])
        .execute();
      await db.schema
        .createIndex('idempotency_keys_expiry_idx')
        .on('idempotency_keys')
        .column('expires_at')
        .execute();
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}
