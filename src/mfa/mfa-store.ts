import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export type MfaMethod = 'totp' | 'webauthn';
export type ChallengePurpose = 'register' | 'authenticate';

export interface TotpRow {
  secretEnc: string;
  createdAt: Date;
  confirmedAt: Date | null;
  lastStep: number | null;
}

export interface WebauthnCredentialRow {
  id: string;
  userId: string;
  publicKey: string;
  counter: number;
  transports: string[];
}

const instant = (v: number | string | null): Date | null => (v === null ? null : new Date(Number(v)));

/** Data access for step-up MFA. Instants are epoch milliseconds, as everywhere in the store. */
export const mfaStore = {
  async getTotp(db: Db, userId: string): Promise<TotpRow | null> {
    const row = await db.selectFrom('mfa_totp').selectAll().where('user_id', '=', userId).executeTakeFirst();
    if (!row) return null;
    return {
      secretEnc: row.secret_enc,
      createdAt: new Date(Number(row.created_at)),
      confirmedAt: instant(row.confirmed_at),
      lastStep: row.last_step === null ? null : Number(row.last_step),
    };
  },

  /** A new pending secret replaces any earlier pending one; a confirmed one is never replaced here. */
  async putPendingTotp(db: Db, userId: string, secretEnc: string, now: Date): Promise<boolean> {
    const existing = await db
      .selectFrom('mfa_totp')
      .select('confirmed_at')
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (existing && existing.confirmed_at !== null) return false;
    if (existing) {
      await db
        .updateTable('mfa_totp')
        .set({ secret_enc: secretEnc, created_at: now.getTime(), last_step: null })
        .where('user_id', '=', userId)
        .where('confirmed_at', 'is', null)
        .execute();
    } else {
      await db
        .insertInto('mfa_totp')
        .values({
          user_id: userId,
          secret_enc: secretEnc,
          created_at: now.getTime(),
          confirmed_at: null,
          last_step: null,
        })
        .execute();
    }
    return true;
  },

  async deleteTotp(db: Db, userId: string): Promise<void> {
    await db.deleteFrom('mfa_totp').where('user_id', '=', userId).execute();
  },

  /**
   * Takes time-step `step` for this user if no code of that step or a later one was accepted before. One
   * conditional update, so two requests racing with the same code cannot both win.
   */
  async claimStep(db: Db, userId: string, step: number, confirmAt: Date | null): Promise<boolean> {
    const result = await db
      .updateTable('mfa_totp')
      .set({ last_step: step, ...(confirmAt ? { confirmed_at: confirmAt.getTime() } : {}) })
      .where('user_id', '=', userId)
      .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  },

  async addVerification(
    db: Db,
    userId: string,
    method: MfaMethod,
    at: Date,
    credentialId: string | null,
  ): Promise<void> {
    await db
      .insertInto('mfa_verifications')
      .values({ user_id: userId, method, verified_at: at.getTime(), credential_id: credentialId })
      .execute();
  },

  /** The latest step-up of the user; with `credentialId`, the latest made with that token or session. */
  async latestVerification(db: Db, userId: string, credentialId?: string): Promise<Date | null> {
    let query = db
      .selectFrom('mfa_verifications')
      .select((eb) => eb.fn.max('verified_at').as('at'))
      .where('user_id', '=', userId);
    if (credentialId !== undefined) query = query.where('credential_id', '=', credentialId);
    const row = await query.executeTakeFirst();
    return instant(row?.at ?? null);
  },

  async listCredentials(db: Db, userId: string): Promise<WebauthnCredentialRow[]> {
    const rows = await db
      .selectFrom('webauthn_credentials')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .execute();
    return rows.map(toCredential);
  },

  async getCredential(db: Db, userId: string, id: string): Promise<WebauthnCredentialRow | null> {
    const row = await db
      .selectFrom('webauthn_credentials')
      .selectAll()
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row ? toCredential(row) : null;
  },

  async addCredential(db: Db, c: WebauthnCredentialRow, now: Date): Promise<void> {
    await db
      .insertInto('webauthn_credentials')
      .values({
        id: c.id,
        user_id: c.userId,
        public_key: c.publicKey,
        counter: c.counter,
        transports: JSON.stringify(c.transports),
        created_at: now.getTime(),
        last_used_at: null,
      })
      .execute();
  },

  /** Moves the signature counter forward only from the value that was checked, so a racing replay loses. */
  async useCredential(db: Db, id: string, from: number, to: number, now: Date): Promise<boolean> {
    const result = await db
      .updateTable('webauthn_credentials')
      .set({ counter: to, last_used_at: now.getTime() })
      .where('id', '=', id)
      .where('counter', '=', from)
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  },

  async addChallenge(db: Db, userId: string, purpose: ChallengePurpose, challenge: string, expiresAt: Date) {
    await db
      .insertInto('webauthn_challenges')
      .values({ challenge, user_id: userId, purpose, expires_at: expiresAt.getTime() })
      .execute();
  },

  /** Single use: the row is deleted as it is checked, so the same challenge never passes twice. */
  async consumeChallenge(
    db: Db,
    userId: string,
    purpose: ChallengePurpose,
    challenge: string,
    now: Date,
  ): Promise<boolean> {
    const result = await db
      .deleteFrom('webauthn_challenges')
      .where('challenge', '=', challenge)
      .where('user_id', '=', userId)
      .where('purpose', '=', purpose)
      .where('expires_at', '>', now.getTime())
      .executeTakeFirst();
    return result.numDeletedRows === 1n;
  },

  async pruneChallenges(db: Db, now: Date): Promise<void> {
    await db.deleteFrom('webauthn_challenges').where('expires_at', '<=', now.getTime()).execute();
  },
};

function toCredential(row: {
  id: string;
  user_id: string;
  public_key: string;
  counter: number;
  transports: string;
}): WebauthnCredentialRow {
  return {
    id: row.id,
    userId: row.user_id,
    publicKey: row.public_key,
    counter: Number(row.counter),
    transports: JSON.parse(row.transports) as string[],
  };
}
