import type { Kysely, Transaction } from 'kysely';
import type { Database, IdempotencyKeysTable } from '../store/schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export type IdempotencyRow = IdempotencyKeysTable;

/** The idempotency_keys table: one row per (caller, key); only the attempt holding a pending row changes it. */
export const idempotencyStore = {
  async get(db: Db, caller: string, key: string): Promise<IdempotencyRow | undefined> {
    return db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('caller', '=', caller)
      .where('key', '=', key)
      .executeTakeFirst();
  },

  /** False when another request took the key first. */
  async insert(db: Db, row: IdempotencyRow): Promise<boolean> {
    const res = await db
      .insertInto('idempotency_keys')
      .values(row)
      .onConflict((oc) => oc.columns(['caller', 'key']).doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
  },

  /** A pending key whose holder ran out of time (it died, or its change rolled back unanswered) changes hands. */
  async takeOver(db: Db, row: IdempotencyRow, attempt: string, lockedUntil: number): Promise<boolean> {
    const res = await db
      .updateTable('idempotency_keys')
      .set({ attempt, locked_until: lockedUntil })
      .where('caller', '=', row.caller)
      .where('key', '=', row.key)
      .where('state', '=', 'pending')
      .where('attempt', '=', row.attempt)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  },

  /** Records the answer; in the change's own transaction where the service allows. False if not the holder. */
  async complete(
    db: Db,
    caller: string,
    key: string,
    attempt: string,
    answer: { status: number; sealed: string },
  ): Promise<boolean> {
    const res = await db
      .updateTable('idempotency_keys')
      .set({ state: 'done', status: answer.status, response_enc: answer.sealed })
      .where('caller', '=', caller)
      .where('key', '=', key)
      .where('attempt', '=', attempt)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  },

  /** The request failed and changed nothing: the key is free again. A key already done is kept. */
  async release(db: Db, caller: string, key: string, attempt: string): Promise<void> {
    await db
      .deleteFrom('idempotency_keys')
      .where('caller', '=', caller)
      .where('key', '=', key)
      .where('attempt', '=', attempt)
      .where('state', '=', 'pending')
      .execute();
  },

  async deleteExpired(db: Db, now: Date): Promise<number> {
    const res = await db
      .deleteFrom('idempotency_keys')
      .where('expires_at', '<=', now.getTime())
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  },
};
