import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { StintError } from '../domain/errors.js';
import type { Database } from '../store/schema.js';
import { isScope, MAX_SCOPED_TOKEN_DAYS, type Scope } from './scopes.js';

/**
 * API tokens look like `stint_<id>.<secret>`. Only SHA-256 of the secret is stored (the secret is 256 random
 * bits, so a slow hash adds nothing); the id finds the row and the hash is compared in constant time.
 *
 * A token without scopes carries its user's full power: only `stint admin token create` on the server host
 * makes those. Tokens made through the API always have scopes and an expiry of at most 90 days.
 */
const TOKEN = /^stint_([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/;
const DAY_MS = 86_400_000;

const digest = (secret: string) => createHash('sha256').update(secret).digest();

export interface ApiTokenView {
  id: string;
  userId: string;
  name: string;
  scopes: Scope[] | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export type TokenCheck =
  | {
      ok: true;
      id: string;
      userId: string;
      scopes: Scope[] | null;
      /** The host-made session it was minted with, if it was: its use is marked as that session's. */
      hostSession: string | null;
    }
  | {
      ok: false;
      reason: 'malformed' | 'unknown' | 'revoked' | 'expired';
      id: string | null;
      userId: string | null;
    };

type Row = Database['api_tokens'];

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

function view(r: Row): ApiTokenView {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    scopes: r.scopes === null ? null : (JSON.parse(r.scopes) as Scope[]),
    createdAt: new Date(Number(r.created_at)).toISOString(),
    expiresAt: iso(r.expires_at),
    revokedAt: iso(r.revoked_at),
    lastUsedAt: iso(r.last_used_at),
  };
}

/** Checks a token's scopes and expiry; bad input is a 400 with a code, and nothing is created. */
export function checkTokenShape(scopes: readonly string[] | null, expiresAt: Date | null, now: Date): void {
  if (scopes === null) return;
  const unknown = scopes.filter((s) => !isScope(s));
  if (scopes.length === 0 || unknown.length > 0) {
    throw new StintError(
      'VALIDATION_FAILED',
      `unknown or missing scopes: ${unknown.join(', ') || '(none)'}`,
      {
        unknown,
      },
    );
  }
  if (expiresAt === null) throw new StintError('VALIDATION_FAILED', 'a scoped token must expire');
  const days = (expiresAt.getTime() - now.getTime()) / DAY_MS;
  if (days <= 0 || days > MAX_SCOPED_TOKEN_DAYS) {
    throw new StintError(
      'VALIDATION_FAILED',
      `a scoped token must expire within ${MAX_SCOPED_TOKEN_DAYS} days`,
    );
  }
}

export function createTokenStore(db: Kysely<Database>) {
  async function check(token: string, now: Date): Promise<TokenCheck> {
    const m = TOKEN.exec(token);
    if (!m) return { ok: false, reason: 'malformed', id: null, userId: null };
    const [, id, secret] = m as unknown as [string, string, string];
    const row = await db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
    // Compare even when the row is missing, so timing does not tell whether an id exists.
    const expected = row ? Buffer.from(row.hash, 'hex') : Buffer.alloc(32);
    const ok = timingSafeEqual(expected, digest(secret));
    // A wrong secret says nothing about whose id it named: an id is not a secret, but it is not proof either.
    if (!row || !ok) return { ok: false, reason: 'unknown', id: null, userId: null };
    if (row.revoked_at !== null) return { ok: false, reason: 'revoked', id, userId: row.user_id };
    if (row.expires_at !== null && Number(row.expires_at) <= now.getTime()) {
      return { ok: false, reason: 'expired', id, userId: row.user_id };
    }
    return { ok: true, id, userId: row.user_id, scopes: view(row).scopes, hostSession: row.host_session };
  }

  return {
    /** `scopes` null makes a full-power token: only the server-host admin command should pass null. */
    async create(
      userId: string,
      name: string,
      now: Date,
      expiresAt: Date | null = null,
      scopes: readonly string[] | null = null,
      hostSession: string | null = null,
    ) {
      checkTokenShape(scopes, expiresAt, now);
      const id = randomBytes(12).toString('base64url');
      const secret = randomBytes(32).toString('base64url');
      await db
        .insertInto('api_tokens')
        .values({
          id,
          user_id: userId,
          name,
          hash: digest(secret).toString('hex'),
          created_at: now.getTime(),
          expires_at: expiresAt?.getTime() ?? null,
          revoked_at: null,
          last_used_at: null,
          scopes: scopes === null ? null : JSON.stringify([...new Set(scopes)].sort()),
          host_session: hostSession,
        })
        .execute();
      return { id, token: `stint_${id}.${secret}` };
    },

    check,

    /** The user id the token belongs to, or null for anything malformed, unknown, revoked or expired. */
    async authenticate(token: string, now: Date): Promise<string | null> {
      const r = await check(token, now);
      return r.ok ? r.userId : null;
    },

    /** Tokens of one user, or of everyone when `userId` is null; never a secret or its hash. */
    async list(userId: string | null): Promise<ApiTokenView[]> {
      let q = db.selectFrom('api_tokens').selectAll().orderBy('created_at').orderBy('id');
      if (userId !== null) q = q.where('user_id', '=', userId);
      return (await q.execute()).map(view);
    },

    async get(id: string): Promise<ApiTokenView | null> {
      const row = await db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? view(row) : null;
    },

    /** Whether any token was ever made, revoked ones included (the demo prints tokens only into a new store). */
    async any(): Promise<boolean> {
      const row = await db.selectFrom('api_tokens').select('id').limit(1).executeTakeFirst();
      return row !== undefined;
    },

    /** Revokes once; revoking again keeps the first time. False when there is no such token. */
    async revoke(id: string, now: Date): Promise<boolean> {
      const row = await db.selectFrom('api_tokens').select('id').where('id', '=', id).executeTakeFirst();
      if (!row) return false;
      await db
        .updateTable('api_tokens')
        .set({ revoked_at: now.getTime() })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .execute();
      return true;
    },
  };
}

export type TokenStore = ReturnType<typeof createTokenStore>;
