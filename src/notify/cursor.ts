import type { Transaction } from 'kysely';
import { type AuditEvent, listAudit } from '../audit/audit-store.js';
import type { StintDatabase } from '../store/database.js';
import type { Database } from '../store/schema.js';
import { notifyDb, notifyTrx } from './notify-tables.js';

/** An event with its canonical body: purged events (body gone) are skipped, not handed on. */
export type CommittedEvent = AuditEvent & { body: NonNullable<AuditEvent['body']> };

export interface CursorTurn {
  /** Events handed to the handler (purged ones are passed over but counted in `advanced`). */
  handled: number;
  /** How far the cursor moved. */
  advanced: number;
  /** False when another server held the cursor: this turn did nothing. */
  held: boolean;
}

export interface AuditCursor {
  /**
   * One turn: in one transaction, takes the cursor (PostgreSQL: its row, `FOR UPDATE SKIP LOCKED`, so a server
   * finding it taken skips the turn instead of waiting; SQLite: one writer anyway), reads up to `limit`
   * committed events after it, lets `handle` record what they cause in the same transaction, and moves the
   * cursor past them. Either all of that commits or none of it: a server killed half-way leaves the cursor
   * where it was, and the next turn (on any server) reads the same events again.
   */
  turn(
    limit: number,
    handle: (trx: Transaction<Database>, events: CommittedEvent[]) => Promise<void>,
  ): Promise<CursorTurn>;
  /** The last seq handled, and the trail's size: how far behind the cursor is. */
  position(): Promise<{ seq: number; size: number }>;
}

/**
 * A durable cursor over the audit trail by its gap-free `seq` (docs/audit.md, "Reading the trail as an
 * outbox"). A cursor that does not exist yet starts at the trail's head: only what is recorded from then on is
 * read. Events are taken only while their seqs run on without a gap: the trail never commits N+1 before N, so a
 * gap is a row the store lost, and the cursor waits at it rather than skip it unseen.
 */
export function createAuditCursor(deps: { store: StintDatabase; name: string }): AuditCursor {
  const { store, name } = deps;
  const db = notifyDb(store.db);

  async function ensure(): Promise<void> {
    const head = await db
      .selectFrom('audit_head')
      .select('size')
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    await db
      .insertInto('notify_cursors')
      .values({ name, seq: Number(head.size) - 1, updated_at: Date.now() })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
  }

  return {
    async turn(limit, handle) {
      for (let round = 0; round < 2; round++) {
        const result = await store.db.transaction().execute(async (trx) => {
          const t = notifyTrx(trx);
          let q = t.selectFrom('notify_cursors').select('seq').where('name', '=', name);
          if (store.traits.rowLocks) q = q.forUpdate().skipLocked();
          const row = await q.executeTakeFirst();
          if (!row) return null;
          const from = Number(row.seq);
          const events = await listAudit(trx, { afterSeq: from, limit });
          let next = from + 1;
          const run: AuditEvent[] = [];
          for (const e of events) {
            if (e.seq !== next) break;
            run.push(e);
            next += 1;
          }
          const live = run.filter((e): e is CommittedEvent => e.body !== null);
          if (live.length > 0) await handle(trx, live);
          if (run.length > 0) {
            await t
              .updateTable('notify_cursors')
              .set({ seq: from + run.length, updated_at: Date.now() })
              .where('name', '=', name)
              .execute();
          }
          return { handled: live.length, advanced: run.length, held: true };
        });
        if (result) return result;
        // No row: either it was never made, or (PostgreSQL) another server holds it. Only the first needs making.
        const exists = await db
          .selectFrom('notify_cursors')
          .select('name')
          .where('name', '=', name)
          .executeTakeFirst();
        if (exists) return { handled: 0, advanced: 0, held: false };
        await ensure();
      }
      return { handled: 0, advanced: 0, held: false };
    },

    async position() {
      const [cursor, head] = await Promise.all([
        db.selectFrom('notify_cursors').select('seq').where('name', '=', name).executeTakeFirst(),
        db.selectFrom('audit_head').select('size').where('id', '=', 1).executeTakeFirstOrThrow(),
      ]);
      const size = Number(head.size);
      return { seq: cursor ? Number(cursor.seq) : size - 1, size };
    },
  };
}
