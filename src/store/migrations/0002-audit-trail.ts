import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/**
 * The audit trail as a Merkle log (RFC 9162): every event is a leaf whose index (`seq`) is assigned gap-free in
 * the transaction that records it, from the one-row counter `audit_head`; complete subtree hashes are stored
 * in `audit_nodes` so proofs need O(log n) reads; signed checkpoints are kept in `audit_checkpoints`.
 *
 * The database itself refuses to rewrite history: triggers block UPDATE and DELETE on the audit tables (on
 * PostgreSQL also TRUNCATE, and those privileges are revoked from PUBLIC). The one change allowed is retention
 * purging an event's body, which keeps its leaf hash so the tree, proofs and checkpoints still verify.
 */
export function auditTrail(ctx: MigrationContext) {
  const pg = ctx.dialect === 'postgresql';
  const bigint = pg ? 'bigint' : 'integer';
  const bytes = pg ? 'bytea' : 'blob';

  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('audit_events')
        .addColumn('seq', bigint, (c) => c.primaryKey())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('at', bigint, (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text')
        // RFC 8785 canonical JSON of the event, including its seq: the exact leaf input. NULL once purged.
        .addColumn('body', 'text')
        .addColumn('leaf_hash', bytes, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('audit_request_idx')
        .on('audit_events')
        .columns(['request_id', 'seq'])
        .execute();
      await db.schema.createIndex('audit_at_idx').on('audit_events').columns(['at']).execute();

      await db.schema
        .createTable('audit_head')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        // Leaves recorded: the next seq.
        .addColumn('size', bigint, (c) => c.notNull())
        .execute();
      await sql`INSERT INTO audit_head (id, size) VALUES (1, 0)`.execute(db);
      // Apart from audit_head so the tree builder never waits on the row every appender locks.
      await db.schema
        .createTable('audit_tree')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('built', bigint, (c) => c.notNull())
        .execute();
      await sql`INSERT INTO audit_tree (id, built) VALUES (1, 0)`.execute(db);

      await db.schema
        .createTable('audit_nodes')
        .addColumn('level', 'integer', (c) => c.notNull())
        .addColumn('idx', bigint, (c) => c.notNull())
        .addColumn('hash', bytes, (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_nodes_pk', ['level', 'idx'])
        .execute();

      await db.schema
        .createTable('audit_checkpoints')
        .addColumn('size', bigint, (c) => c.primaryKey())
        .addColumn('root', bytes, (c) => c.notNull())
        .addColumn('note', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .execute();

      if (pg) await postgresGuards(db);
      else await sqliteGuards(db);
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}

/** What a purge may change: the body goes to NULL, and nothing else changes. */
const PURGE_ONLY = `NEW.body IS NULL AND OLD.body IS NOT NULL AND NEW.seq = OLD.seq AND NEW.id = OLD.id
  AND NEW.at = OLD.at AND NEW.actor = OLD.actor AND NEW.action = OLD.action
  AND NEW.request_id IS NOT DISTINCT FROM OLD.request_id AND NEW.leaf_hash = OLD.leaf_hash`;

async function sqliteGuards(db: Kysely<unknown>): Promise<void> {
  const purgeOnly = PURGE_ONLY.replaceAll('IS NOT DISTINCT FROM', 'IS');
  await sql
    .raw(`CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events WHEN NOT (${purgeOnly})
      BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END`)
    .execute(db);
  for (const table of ['audit_events', 'audit_nodes', 'audit_checkpoints']) {
    await sql
      .raw(`CREATE TRIGGER ${table}_no_delete BEFORE DELETE ON ${table}
        BEGIN SELECT RAISE(ABORT, '${table} is append-only'); END`)
      .execute(db);
  }
  for (const table of ['audit_nodes', 'audit_checkpoints']) {
    await sql
      .raw(`CREATE TRIGGER ${table}_no_update BEFORE UPDATE ON ${table}
        BEGIN SELECT RAISE(ABORT, '${table} is append-only'); END`)
      .execute(db);
  }
}

async function postgresGuards(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(`CREATE FUNCTION stint_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        -- Nested: plpgsql does not short-circuit, and other tables have no NEW.body.
        IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'audit_events' THEN
          IF (${PURGE_ONLY}) THEN RETURN NEW; END IF;
        END IF;
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
      END $$`)
    .execute(db);
  for (const table of ['audit_events', 'audit_nodes', 'audit_checkpoints']) {
    await sql
      .raw(`CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${table}
        FOR EACH ROW EXECUTE FUNCTION stint_audit_append_only()`)
      .execute(db);
    await sql
      .raw(`CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table}
        FOR EACH STATEMENT EXECUTE FUNCTION stint_audit_append_only()`)
      .execute(db);
    // Defence in depth for deployments that run the server as a role other than the tables' owner.
    await sql.raw(`REVOKE UPDATE, DELETE, TRUNCATE ON ${table} FROM PUBLIC`).execute(db);
  }
}
