import { randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Clock } from '../domain/clock.js';
import { StintError } from '../domain/errors.js';
import type { Database } from '../store/schema.js';
import { idempotencyStore } from './idempotency-store.js';

/** How long a key is remembered (the draft leaves it to the resource; Stripe keeps 24 h too). */
export const KEY_TTL_MS = 24 * 60 * 60 * 1000;
/**
 * How long an attempt holds its key while unanswered: longer than any request takes (store calls are bounded
 * by their timeouts), so a second request while the first runs is refused, and a holder that died lets go.
 */
export const HOLD_MS = 15_000;

/** One request's use of a key, and what it was: a replay must be the same call. */
export interface KeyUse {
  caller: string;
  key: string;
  method: string;
  path: string;
  fingerprint: string;
}

export interface Answer {
  status: number;
  body: unknown;
}

export type Begun = { kind: 'replay'; answer: Answer } | { kind: 'run'; attempt: string };

/** Sealed with the caller and key as associated data: a stored answer opens for that key of that caller only. */
const aad = (use: Pick<KeyUse, 'caller' | 'key'>) => `idempotency:${use.caller}:${use.key}`;

export function createIdempotencyService(deps: { db: Kysely<Database>; secrets: SecretBox; clock: Clock }) {
  const { db, secrets, clock } = deps;
  const inUse = () =>
    new StintError(
      'IDEMPOTENCY_KEY_IN_USE',
      'a request with this Idempotency-Key is still being processed: retry it shortly',
    );

  async function start(use: KeyUse, now: number): Promise<Begun> {
    const attempt = randomBytes(12).toString('base64url');
    const inserted = await idempotencyStore.insert(db, {
      ...use,
      state: 'pending',
      attempt,
      locked_until: now + HOLD_MS,
      status: null,
      response_enc: null,
      created_at: now,
      expires_at: now + KEY_TTL_MS,
    });
    if (!inserted) throw inUse();
    return { kind: 'run', attempt };
  }

  return {
    /** The store, for recording an answer outside a change's transaction. */
    db,
    /**
     * Before the route runs: a new key is held for this attempt; the same call again replays the stored answer
     * (or waits its turn while the first is unanswered); the key with another call is refused.
     */
    async begin(use: KeyUse): Promise<Begun> {
      const now = clock().getTime();
      const row = await idempotencyStore.get(db, use.caller, use.key);
      if (!row) return start(use, now);
      if (row.expires_at <= now) {
        // Forgotten: the sweep had not come by yet.
        await db
          .deleteFrom('idempotency_keys')
          .where('caller', '=', row.caller)
          .where('key', '=', row.key)
          .where('expires_at', '<=', now)
          .execute();
        return start(use, now);
      }
      if (row.method !== use.method || row.path !== use.path || row.fingerprint !== use.fingerprint) {
        throw new StintError(
          'IDEMPOTENCY_KEY_REUSED',
          'this Idempotency-Key was used for another request: a key names one request (method, path and body)',
        );
      }
      if (row.state === 'done' && row.status !== null && row.response_enc !== null) {
        return {
          kind: 'replay',
          answer: { status: row.status, body: JSON.parse(secrets.open(row.response_enc, aad(use))) },
        };
      }
      if (row.locked_until > now) throw inUse();
      const attempt = randomBytes(12).toString('base64url');
      if (!(await idempotencyStore.takeOver(db, row, attempt, now + HOLD_MS))) throw inUse();
      return { kind: 'run', attempt };
    },

    /**
     * Stores the answer of the attempt holding the key. Given the change's transaction, it commits or rolls back
     * with the change; an attempt that no longer holds its key (it outlived HOLD_MS and another took over) is
     * refused, so the change rolls back rather than happening twice.
     */
    async complete(
      trx: Kysely<Database> | Transaction<Database>,
      use: Pick<KeyUse, 'caller' | 'key'>,
      attempt: string,
      answer: Answer,
    ): Promise<void> {
      const sealed = secrets.seal(JSON.stringify(answer.body), aad(use));
      const held = await idempotencyStore.complete(trx, use.caller, use.key, attempt, {
        status: answer.status,
        sealed,
      });
      if (!held) throw inUse();
    },

    /** The attempt failed and changed nothing: the next request with the key runs afresh. */
    async release(use: Pick<KeyUse, 'caller' | 'key'>, attempt: string): Promise<void> {
      await idempotencyStore.release(db, use.caller, use.key, attempt);
    },

    /** Forgets keys older than KEY_TTL_MS. */
    async sweep(): Promise<number> {
      return idempotencyStore.deleteExpired(db, clock());
    },
  };
}

export type IdempotencyService = ReturnType<typeof createIdempotencyService>;
