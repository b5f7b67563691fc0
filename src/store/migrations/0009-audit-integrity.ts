import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from './migration-context.js';

/**
 * Two defences for the audit trail (issue 15):
 *
 * - `audit_events.leaf_mac`: a MAC per leaf made with a key derived from the checkpoint signing key, which the
 *   store never holds, so the tree builder folds only leaves a Stint server wrote. Leaves recorded before this
 *   migration have none; `audit_mac_start` (append-only, one row) says where MACs begin.
 * - A body may be purged only by a recorded purge: the update guard now also requires a later `audit.purged`
 *   event whose range covers the row and whose retention (≥ 365 days) the row is older than. The purge records
 *   its event first, then blanks the bodies, in one transaction.
 * - `audit_cosignatures`: external witnesses' cosignatures (C2SP tlog-witness) on our checkpoints.
 */
export function auditIntegrity(ctx: MigrationContext) {
  const pg = ctx.dialect === 'postgresql';
  const bigint = pg ? 'bigint' : 'integer';
  const bytes = pg ? 'bytea' : 'blob';

  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('audit_events').addColumn('leaf_mac', bytes).execute();
      await db.schema
        .createTable('audit_mac_start')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('size', bigint, (c) => c.notNull())
        .execute();
      await sql`INSERT INTO audit_mac_start (id, size) SELECT 1, size FROM audit_head WHERE id = 1`.execute(
        db,
      );
      // Cosignatures need no guard: readers verify them, and losing one only makes a k-of-n check fail.
      await db.schema
        .createTable('audit_cosignatures')
        .addColumn('size', bigint, (c) => c.notNull())
        .addColumn('witness', 'text', (c) => c.notNull())
        .addColumn('lines', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_cosignatures_pk', ['size', 'witness'])
        .execute();
      // The guard looks the covering purge up per blanked row: purges are few, so index only them.
      await sql`CREATE INDEX audit_purges_idx ON audit_events (seq) WHERE action = 'audit.purged'`.execute(
        db,
      );
      if (pg) await postgresGuards(db);
      else await sqliteGuards(db);
    },
    async down(): Promise<void> {
      throw new Error('Stint migrations are forward-only');
    },
  };
}

/** A purge may change only the body, to NULL; the MAC and everything else stay. */
const PURGE_ONLY = `NEW.body IS NULL AND OLD.body IS NOT NULL AND NEW.seq = OLD.seq AND NEW.id = OLD.id
  AND NEW.at = OLD.at AND NEW.actor = OLD.actor AND NEW.action = OLD.action
  AND NEW.request_id IS NOT DISTINCT FROM OLD.request_id AND NEW.leaf_hash = OLD.leaf_hash
  AND NEW.leaf_mac IS NOT DISTINCT FROM OLD.leaf_mac`;

/** A later purge event covers the row: its range holds the seq and the row is older than its retention. */
function covered(field: (path: string) => string): string {
  return `EXISTS (SELECT 1 FROM audit_events p WHERE p.action = 'audit.purged' AND p.seq > OLD.seq
    AND p.body IS NOT NULL
    AND ${field('range,start')} <= OLD.seq AND OLD.seq < ${field('range,end')}
    AND ${field('retentionDays')} >= 365
    AND OLD.at < p.at - ${field('retentionDays')} * 86400000)`;
}

async function sqliteGuards(db: Kysely<unknown>): Promise<void> {
  const purgeOnly = PURGE_ONLY.replaceAll('IS NOT DISTINCT FROM', 'IS');
  const field = (path: string) => `json_extract(p.body, '$.details.${path.replaceAll(',', '.')}')`;
  await sql`DROP TRIGGER audit_events_no_update`.execute(db);
  await sql
    .raw(`CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
      WHEN NOT (${purgeOnly} AND ${covered(field)})
      BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END`)
    .execute(db);
  for (const op of ['UPDATE', 'DELETE']) {
    await sql
      .raw(`CREATE TRIGGER audit_mac_start_no_${op.toLowerCase()} BEFORE ${op} ON audit_mac_start
        BEGIN SELECT RAISE(ABORT, 'audit_mac_start is append-only'); END`)
      .execute(db);
  }
}

async function postgresGuards(db: Kysely<unknown>): Promise<void> {
  const field = (path: string) => `(p.body::jsonb #>> '{details,${path}}')::bigint`;
  await sql
    .raw(`CREATE OR REPLACE FUNCTION stint_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        -- Nested: plpgsql does not short-circuit, and other tables have no NEW.body.
        IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'audit_events' THEN
          IF (${PURGE_ONLY}) THEN
            IF ${covered(field)} THEN RETURN NEW; END IF;
          END IF;
        END IF;
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
      END $$`)
    .execute(db);
  await sql
    .raw(`CREATE TRIGGER audit_mac_start_append_only BEFORE UPDATE OR DELETE ON audit_mac_start
      FOR EACH ROW EXECUTE FUNCTION stint_audit_append_only()`)
    .execute(db);
  await sql
    .raw(`CREATE TRIGGER audit_mac_start_no_truncate BEFORE TRUNCATE ON audit_mac_start
      FOR EACH STATEMENT EXECUTE FUNCTION stint_audit_append_only()`)
    .execute(db);
  await sql.raw('REVOKE UPDATE, DELETE, TRUNCATE ON audit_mac_start FROM PUBLIC').execute(db);
}
