import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { HostMade, HostOperator } from '../domain/host-operator.js';
import type { Database } from '../store/schema.js';

export type { HostMade } from '../domain/host-operator.js';

/**
 * Sign-in sessions: `stints_<id>.<secret>`, the same shape as API tokens with its own prefix, so one look at a
 * credential says which store to ask. Only SHA-256 of the secret is stored. The portal keeps it in the
 * `stint_session` cookie, the CLI in its token file.
 */
const SESSION = /^stints_([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/;

const digest = (secret: string) => createHash('sha256').update(secret).digest();

export const isSessionToken = (token: string) => token.startsWith('stints_');

/**
 * The CSRF token of a cookie session: derived from the session secret, so the server recomputes it from the
 * cookie without storing anything, and a page on another origin (which cannot read the HttpOnly cookie) cannot.
 */
export const csrfTokenFor = (sessionToken: string) =>
  createHash('sha256').update(`stint-csrf\0${sessionToken}`).digest('base64url');

/** Whether a presented CSRF header is the session's, compared in constant time (hashed to one length first). */
export function csrfTokenMatches(sessionToken: string, header: string): boolean {
  const hash = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(hash(header), hash(csrfTokenFor(sessionToken)));
}

export type SessionSource = 'oidc' | 'cli';

export type SessionCheck =
  | {
      ok: true;
      id: string;
      userId: string;
      mfaAt: Date | null;
      authAt: Date | null;
      expiresAt: Date;
      /** Null for a sign-in at the identity provider. */
      hostMade: HostMade | null;
    }
  | {
      ok: false;
      reason: 'malformed' | 'unknown' | 'revoked' | 'expired';
      id: string | null;
      userId: string | null;
    };

export function createSessionStore(db: Kysely<Database>) {
  return {
    async create(s: {
      userId: string;
      source: SessionSource;
      now: Date;
      ttlMs: number;
      mfaAt: Date | null;
      /** The provider's `auth_time`: when it last authenticated the person (not when it issued a token). */
      authAt?: Date | null;
      /** Made on the server host: the account that ran the command and the host's name. */
      hostMade?: HostOperator;
    }): Promise<{ id: string; token: string; expiresAt: Date }> {
      const id = randomBytes(12).toString('base64url');
      const secret = randomBytes(32).toString('base64url');
      const expiresAt = new Date(s.now.getTime() + s.ttlMs);
      await db
        .insertInto('sessions')
        .values({
          id,
          user_id: s.userId,
          hash: digest(secret).toString('hex'),
          source: s.source,
          created_at: s.now.getTime(),
          expires_at: expiresAt.getTime(),
          revoked_at: null,
          mfa_at: s.mfaAt?.getTime() ?? null,
          auth_at: s.authAt?.getTime() ?? null,
          host_made_by: s.hostMade?.by ?? null,
          host_name: s.hostMade?.host ?? null,
          host_announced_at: null,
        })
        .execute();
      return { id, token: `stints_${id}.${secret}`, expiresAt };
    },

    async check(token: string, now: Date): Promise<SessionCheck> {
      const m = SESSION.exec(token);
      if (!m) return { ok: false, reason: 'malformed', id: null, userId: null };
      const [, id, secret] = m as unknown as [string, string, string];
      const row = await db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
      // Compare even when the row is missing, so timing does not tell whether an id exists.
      const expected = row ? Buffer.from(row.hash, 'hex') : Buffer.alloc(32);
      const ok = timingSafeEqual(expected, digest(secret));
      if (!row || !ok) return { ok: false, reason: 'unknown', id: null, userId: null };
      if (row.revoked_at !== null) return { ok: false, reason: 'revoked', id, userId: row.user_id };
      if (Number(row.expires_at) <= now.getTime())
        return { ok: false, reason: 'expired', id, userId: row.user_id };
      return {
        ok: true,
        id,
        userId: row.user_id,
        mfaAt: row.mfa_at === null ? null : new Date(Number(row.mfa_at)),
        authAt: row.auth_at === null ? null : new Date(Number(row.auth_at)),
        expiresAt: new Date(Number(row.expires_at)),
        hostMade:
          row.host_made_by === null
            ? null
            : {
                by: row.host_made_by,
                host: row.host_name ?? '',
                createdAt: new Date(Number(row.created_at)),
                announced: row.host_announced_at !== null,
              },
      };
    },

    /**
     * Marks a host-made session announced, in the caller's transaction (beside the audit event that announces
     * it); false when it already was, so across servers sharing the store exactly one writes the event.
     */
    async markAnnounced(trx: Kysely<Database>, id: string, now: Date): Promise<boolean> {
      const r = await trx
        .updateTable('sessions')
        .set({ host_announced_at: now.getTime() })
        .where('id', '=', id)
        .where('host_made_by', 'is not', null)
        .where('host_announced_at', 'is', null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },

    async revoke(id: string, now: Date): Promise<void> {
      await db
        .updateTable('sessions')
        .set({ revoked_at: now.getTime() })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .execute();
    },

    /** Records an ID token's nonce as used; false when it already was (a replay). */
    async useNonce(key: string, expiresAt: Date, now: Date): Promise<boolean> {
      await db.deleteFrom('id_token_nonces').where('expires_at', '<', now.getTime()).execute();
      const hashed = createHash('sha256').update(key).digest('hex');
      const inserted = await db
        .insertInto('id_token_nonces')
        .values({ key: hashed, expires_at: expiresAt.getTime() })
        .onConflict((oc) => oc.column('key').doNothing())
        .executeTakeFirst();
      return Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1;
    },
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;
