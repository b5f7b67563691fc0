import type { Kysely } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/**
 * People and groups pushed by an identity provider over SCIM 2.0. A SCIM DELETE keeps the row as a tombstone
 * (`deleted_at`) so a person removed by the IdP stays removed even if a lower directory source still lists
 * them; re-provisioning the same userName replaces the tombstone.
 */
export function directory(ctx: MigrationContext) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const instant = ctx.dialect === 'postgresql' ? 'bigint' : 'integer';
      await db.schema
        .createTable('scim_users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_name', 'text', (c) => c.notNull())
        // userName is case-insensitive in SCIM (RFC 7643 §4.1.1): uniqueness is on the lower-cased form.
        .addColumn('user_name_key', 'text', (c) => c.notNull().unique())
        .addColumn('external_id', 'text')
        .addColumn('active', 'integer', (c) => c.notNull())
        // The SCIM resource as last written (core + enterprise extension), JSON text.
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', instant, (c) => c.notNull())
        .addColumn('updated_at', instant, (c) => c.notNull())
        .addColumn('deleted_at', instant)
        .execute();
      await db.schema
        .createTable('scim_groups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('external_id', 'text')
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', instant, (c) => c.notNull())
        .addColumn('updated_at', instant, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('scim_memberships')
        .addColumn('group_id', 'text', (c) => c.notNull().references('scim_groups.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull().references('scim_users.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('scim_memberships_pk', ['group_id', 'user_id'])
        .execute();
      await db.schema
        .createIndex('scim_memberships_user_idx')
        .on('scim_memberships')
        .column('user_id')
        .execute();
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}
