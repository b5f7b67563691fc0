import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/**
 * The store's own identity: a random id made once, when the store is created (or first upgraded to this
 * version), and written into every tag Stint puts on a target. Two deployments that happen to share a human
 * name still never take each other's roles for their own. A restored backup keeps its id, as it should: it is
 * the same store. One row, id 1.
 *
 * Grants also gain `vanished_at`: set when the credential of a live grant was found gone from its target
 * without Stint having removed it.
 */
export function storeIdentity(ctx: MigrationContext) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const instant = ctx.dialect === 'postgresql' ? 'bigint' : 'integer';
      await db.schema
        .createTable('store_identity')
        .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
        .addColumn('store_id', 'text', (c) => c.notNull())
        .addColumn('created_at', instant, (c) => c.notNull())
        .execute();
      await (db as Kysely<{ store_identity: { id: number; store_id: string; created_at: number } }>)
        .insertInto('store_identity')
        .values({ id: 1, store_id: newStoreId(), created_at: Date.now() })
        .execute();
      await db.schema.alterTable('grants').addColumn('vanished_at', instant).execute();
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}

/** `st_` and 16 random hex digits: unguessable, and short enough for a role comment. */
export function newStoreId(): string {
  return `st_${randomBytes(8).toString('hex')}`;
}
