import { randomUUID } from 'node:crypto';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { StintDatabase } from './database.js';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/** At most `max` attempts per key in any `windowMs`. */
export interface CountedLimit {
  max: number;
  windowMs: number;
}

/** A counted attempt: its row stays (a failure) unless it is released (it turned out not to count). */
export interface Attempt {
  /** Takes the attempt back: with `db` a transaction, together with what the success changed. */
  release(db?: Db): Promise<void>;
}

export type Reservation = { ok: true; attempt: Attempt } | { ok: false; retryAt: Date };

/** Names per-key attempt locks among PostgreSQL advisory locks (the two-key form: apart from audit-log's). */
const ATTEMPT_LOCK_CLASS = 0x5374_6e74;

/**
 * Counted limits kept in the store, so every server sharing it counts together. An attempt is counted before the
 * secret it carries is checked, as one step under a lock on its key (an advisory transaction lock on PostgreSQL;
 * SQLite serialises writers): so N attempts at once, on one server or several, never have more than `max`
 * checked. The caller then releases the attempts that do not count (a right code, or no guess at all); a
 * failure, or a crash before the answer, stays counted until it leaves the window.
 */
export function createAttemptLimit(store: Pick<StintDatabase, 'db' | 'dialect'>, limit: CountedLimit) {
  return {
    async reserve(key: string, now: Date): Promise<Reservation> {
      const since = now.getTime() - limit.windowMs;
      const id = randomUUID();
      const outcome = await store.db.transaction().execute(async (trx) => {
        if (store.dialect === 'postgres') {
          await sql`SELECT pg_advisory_xact_lock(${ATTEMPT_LOCK_CLASS}, hashtext(${key}))`.execute(trx);
        }
        await trx.deleteFrom('counted_attempts').where('key', '=', key).where('at', '<=', since).execute();
        const row = await trx
          .selectFrom('counted_attempts')
          .select((eb) => [eb.fn.countAll<number | string>().as('n'), eb.fn.min('at').as('oldest')])
          .where('key', '=', key)
          .executeTakeFirst();
        if (Number(row?.n ?? 0) >= limit.max) {
          const oldest = row?.oldest == null ? now.getTime() : Number(row.oldest);
          return { ok: false as const, retryAt: new Date(oldest + limit.windowMs) };
        }
        await trx.insertInto('counted_attempts').values({ id, key, at: now.getTime() }).execute();
        return { ok: true as const };
      });
      if (!outcome.ok) return outcome;
      return {
        ok: true,
        attempt: {
          async release(db: Db = store.db) {
            await db.deleteFrom('counted_attempts').where('id', '=', id).execute();
          },
        },
      };
    },
  };
}

export type AttemptLimit = ReturnType<typeof createAttemptLimit>;
