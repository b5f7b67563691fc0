import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
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
 * How often an attempt finding its key locked tries again, and how long it waits in between (with jitter),
 * holding no connection meanwhile; then it is refused for a second.
 */
const BUSY_TRIES = 8;
const BUSY_PAUSE_MS = 25;
const BUSY_RETRY_MS = 1000;

type Outcome = { ok: true } | { ok: false; retryAt: Date } | { busy: true };

/**
 * Counted limits kept in the store, so every server sharing it counts together. An attempt is counted before the
 * secret it carries is checked, as one step under a lock on its key (SQLite serialises writers; on PostgreSQL an
 * advisory transaction lock): so N attempts at once, on one server or several, never have more than `max`
 * checked. The caller then releases the attempts that do not count (a right code, or no guess at all); a
 * failure, or a crash before the answer, stays counted until it leaves the window.
 *
 * The PostgreSQL lock is tried, never waited for in the database: a burst on one key must not hold the pool's
 * connections while it queues (every other request would starve). An attempt finding the key busy pauses
 * without a connection and tries again a few times, then is refused (not checked) with a retry in a second.
 */
export function createAttemptLimit(store: Pick<StintDatabase, 'db' | 'traits'>, limit: CountedLimit) {
  async function attempt(key: string, id: string, now: Date): Promise<Outcome> {
    return store.db.transaction().execute(async (trx): Promise<Outcome> => {
      if (store.traits.advisoryLocks) {
        const locked = await sql<{
          ok: boolean;
        }>`SELECT pg_try_advisory_xact_lock(${ATTEMPT_LOCK_CLASS}, hashtext(${key})) AS ok`.execute(trx);
        if (!locked.rows[0]?.ok) return { busy: true };
      }
      const since = now.getTime() - limit.windowMs;
      await trx.deleteFrom('counted_attempts').where('key', '=', key).where('at', '<=', since).execute();
      const row = await trx
        .selectFrom('counted_attempts')
        .select((eb) => [eb.fn.countAll<number | string>().as('n'), eb.fn.min('at').as('oldest')])
        .where('key', '=', key)
        .executeTakeFirst();
      if (Number(row?.n ?? 0) >= limit.max) {
        const oldest = row?.oldest == null ? now.getTime() : Number(row.oldest);
        return { ok: false, retryAt: new Date(oldest + limit.windowMs) };
      }
      await trx.insertInto('counted_attempts').values({ id, key, at: now.getTime() }).execute();
      return { ok: true };
    });
  }

  return {
    async reserve(key: string, now: Date): Promise<Reservation> {
      const id = randomUUID();
      for (let tries = 1; ; tries++) {
        const outcome = await attempt(key, id, now);
        if ('busy' in outcome) {
          if (tries >= BUSY_TRIES) return { ok: false, retryAt: new Date(now.getTime() + BUSY_RETRY_MS) };
          await sleep(BUSY_PAUSE_MS * (0.5 + Math.random()));
          continue;
        }
        if (!outcome.ok) return outcome;
        return {
          ok: true,
          attempt: {
            async release(db: Db = store.db) {
              await db.deleteFrom('counted_attempts').where('id', '=', id).execute();
            },
          },
        };
      }
    },
  };
}

export type AttemptLimit = ReturnType<typeof createAttemptLimit>;
