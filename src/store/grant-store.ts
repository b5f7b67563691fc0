import type { Kysely, Transaction } from 'kysely';
import type { Database, GrantsTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export type GrantRow = GrantsTable;

/** A grant is the credential side of an active request: what exists on the target and whether it is gone yet. */
export const grantStore = {
  async insert(
    db: Db,
    g: { requestId: string; resource: string; principal: string; sealed: string; kept?: string; now: Date },
  ): Promise<GrantRow> {
    const row: GrantRow = {
      request_id: g.requestId,
      resource: g.resource,
      principal: g.principal,
      credential_enc: g.sealed,
      credential_shown_at: null,
      kept_enc: g.kept ?? null,
      revocation: 'none',
      revoke_attempts: 0,
      next_revoke_at: null,
      revoke_error: null,
      revoked_at: null,
      created_at: g.now.getTime(),
      vanished_at: null,
    };
    await db.insertInto('grants').values(row).execute();
    return row;
  },

  async get(db: Db, requestId: string): Promise<GrantRow | undefined> {
    return db.selectFrom('grants').selectAll().where('request_id', '=', requestId).executeTakeFirst();
  },

  async getMany(db: Db, requestIds: string[]): Promise<Map<string, GrantRow>> {
    if (requestIds.length === 0) return new Map();
    const rows = await db.selectFrom('grants').selectAll().where('request_id', 'in', requestIds).execute();
    return new Map(rows.map((r) => [r.request_id, r]));
  },

  /**
   * Hands the sealed credential out exactly once: the row is cleared in the same transaction, so a second reader
   * (or a racing one) finds nothing, and the secret no longer exists at rest afterwards. The update re-checks
   * that access is still live: an expiry that committed after the read has dropped the secret, and wins. The
   * grant comes back as the update left it, so the caller needs no further read.
   */
  async takeCredential(
    db: Db,
    requestId: string,
    now: Date,
  ): Promise<{ sealed: string; grant: GrantRow } | null> {
    const row = await db
      .selectFrom('grants')
      .select('credential_enc')
      .where('request_id', '=', requestId)
      .where('credential_shown_at', 'is', null)
      .executeTakeFirst();
    if (!row?.credential_enc) return null;
    const grant = await db
      .updateTable('grants')
      .set({ credential_enc: null, credential_shown_at: now.getTime() })
      .where('request_id', '=', requestId)
      .where('credential_shown_at', 'is', null)
      .where('credential_enc', 'is not', null)
      .where('revocation', '=', 'none')
      .returningAll()
      .executeTakeFirst();
    return grant ? { sealed: row.credential_enc, grant } : null;
  },

  /** Access has ended in Stint; the target still has to be cleaned. The sealed credential is dropped now. */
  async markRevocationPending(db: Db, requestId: string, now: Date): Promise<void> {
    await db
      .updateTable('grants')
      .set({ revocation: 'pending', next_revoke_at: now.getTime(), credential_enc: null, kept_enc: null })
      .where('request_id', '=', requestId)
      .where('revocation', '=', 'none')
      .execute();
  },

  /** markRevocationPending for many grants at once (a batch of expiries). */
  async markRevocationsPending(db: Db, requestIds: readonly string[], now: Date): Promise<void> {
    if (requestIds.length === 0) return;
    await db
      .updateTable('grants')
      .set({ revocation: 'pending', next_revoke_at: now.getTime(), credential_enc: null, kept_enc: null })
      .where('request_id', 'in', [...requestIds])
      .where('revocation', '=', 'none')
      .execute();
  },

  /**
   * The credential was found gone from the target while the grant was live: recorded, and handed to the
   * revoker (which confirms it is gone) like any other ended grant.
   */
  async markVanished(db: Db, requestId: string, now: Date): Promise<void> {
    await db
      .updateTable('grants')
      .set({
        vanished_at: now.getTime(),
        revocation: 'pending',
        next_revoke_at: now.getTime(),
        credential_enc: null,
        kept_enc: null,
      })
      .where('request_id', '=', requestId)
      .where('revocation', '=', 'none')
      .execute();
  },

  async markRevoked(db: Db, requestId: string, now: Date): Promise<boolean> {
    const res = await db
      .updateTable('grants')
      .set({ revocation: 'done', revoked_at: now.getTime(), next_revoke_at: null, revoke_error: null })
      .where('request_id', '=', requestId)
      .where('revocation', '!=', 'done')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  },

  /**
   * Records failed attempt number `attempts` (the count read before it, plus one). False when another server
   * recorded that attempt first: then this one's events (the first failure's alert among them) are not repeated.
   */
  async markRevokeFailed(
    db: Db,
    requestId: string,
    error: string,
    nextAt: Date,
    attempts: number,
  ): Promise<boolean> {
    const res = await db
      .updateTable('grants')
      .set({ revoke_attempts: attempts, revoke_error: error, next_revoke_at: nextAt.getTime() })
      .where('request_id', '=', requestId)
      .where('revocation', '=', 'pending')
      .where('revoke_attempts', '=', attempts - 1)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  },

  /**
   * Revocations that failed at least once and are still being retried: access that ended in Stint and is still
   * on its target. Oldest first, at most `limit` of them, and how many there are in all.
   */
  async overdueRevocations(db: Db, limit: number): Promise<{ count: number; requestIds: string[] }> {
    const overdue = db
      .selectFrom('grants')
      .where('revocation', '=', 'pending')
      .where('revoke_attempts', '>', 0);
    const [{ n } = { n: 0 }] = await overdue.select((eb) => eb.fn.countAll<number>().as('n')).execute();
    const rows = await overdue.select('request_id').orderBy('created_at').limit(limit).execute();
    return { count: Number(n), requestIds: rows.map((r) => r.request_id) };
  },

  /**
   * A credential its target cannot take back early (expire-only kinds): the revocation is not failing, it waits
   * for the credential's own end. True when this call set the wait (the first time), so it is audited once.
   */
  async deferRevocation(db: Db, requestId: string, until: Date): Promise<boolean> {
    const res = await db
      .updateTable('grants')
      .set({ next_revoke_at: until.getTime() })
      .where('request_id', '=', requestId)
      .where('revocation', '=', 'pending')
      .where((eb) => eb.or([eb('next_revoke_at', 'is', null), eb('next_revoke_at', '!=', until.getTime())]))
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  },

  /**
   * The revocation can never succeed (its provider said so): a terminal state, out of the retry queue, with the
   * reason kept for the request view. True when this call made the change.
   */
  async markRevocationAbandoned(db: Db, requestId: string, error: string): Promise<boolean> {
    const res = await db
      .updateTable('grants')
      .set((eb) => ({
        revocation: 'abandoned',
        revoke_attempts: eb('revoke_attempts', '+', 1),
        revoke_error: error,
        next_revoke_at: null,
      }))
      .where('request_id', '=', requestId)
      .where('revocation', '=', 'pending')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  },

  async dueRevocations(db: Db, now: Date, limit: number): Promise<GrantRow[]> {
    return db
      .selectFrom('grants')
      .selectAll()
      .where('revocation', '=', 'pending')
      .where('next_revoke_at', '<=', now.getTime())
      .orderBy('next_revoke_at')
      .limit(limit)
      .execute();
  },

  async byPrincipal(db: Db, principals: string[]): Promise<Map<string, GrantRow>> {
    if (principals.length === 0) return new Map();
    const rows = await db.selectFrom('grants').selectAll().where('principal', 'in', principals).execute();
    return new Map(rows.map((r) => [r.principal, r]));
  },
};

/** The grant store's shape, injected into the workflow like the request store (tests swap it). */
export type GrantStore = typeof grantStore;
