import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { StintError } from '../domain/errors.js';
import type { HostMade, HostOperator } from '../domain/host-operator.js';
import { isScope, MAX_SCOPED_TOKEN_DAYS, type Scope } from '../domain/scopes.js';
import type { Database } from '../store/schema.js';

/**
 * API tokens look like `stint_<id>.<secret>`. Only SHA-256 of the secret is stored (the secret is 256 random
 * bits, so a slow hash adds nothing); the id finds the row and the hash is compared in constant time.
 *
 * A token without scopes carries its user's full power: only `stint admin token create` on the server host
 * makes those (and the demo server, for its users). Tokens made through the API always have scopes and an expiry
 * of at most 90 days. A token made or revoked on the host is marked so (who, which host), and the server announces
 * it in the audit trail (src/identity/host-tokens.ts): the host command holds no audit key.
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
      /** Made on the server host: announced before its first use acts (src/identity/host-tokens.ts). */
      hostMade: HostMade | null;
    }
  | {
      ok: false;
      reason: 'malformed' | 'unknown' | 'revoked' | 'expired';
      id: string | null;
      userId: string | null;
    };

type Row = Database['api_tokens'];

/** What `revoke` did: revoked it now, found it revoked already (the first time stays), or found no such token. */
export type RevokeOutcome = 'revoked' | 'already' | 'unknown';

/** Marks a new token carries: the host-made session it was minted with, or the host operator who made it. */
export interface TokenMarks {
  hostSession?: string | null;
  hostMade?: HostOperator | null;
}

function hostMadeOf(r: Row): HostMade | null {
  if (r.host_made_by === null) return null;
  return {
    by: r.host_made_by,
    host: r.host_name ?? '',
    createdAt: new Date(Number(r.created_at)),
    announced: r.host_announced_at !== null,
  };
}

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
    return {
      ok: true,
      id,
      userId: row.user_id,
      scopes: view(row).scopes,
      hostSession: row.host_session,
      hostMade: hostMadeOf(row),
    };
  }

  return {
    /** `scopes` null makes a full-power token: only the server-host admin command should pass null. */
    async create(
      userId: string,
      name: string,
      now: Date,
      expiresAt: Date | null = null,
      scopes: readonly string[] | null = null,
      marks: TokenMarks = {},
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
          host_session: marks.hostSession ?? null,
          host_made_by: marks.hostMade?.by ?? null,
          host_name: marks.hostMade?.host ?? null,
          host_announced_at: null,
          host_revoked_by: null,
          host_revoked_on: null,
          host_revoke_announced_at: null,
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

    /** The token and its host marks (never its hash): what the audit events about it name. */
    async record(
      id: string,
    ): Promise<(ApiTokenView & { hostMade: HostMade | null; hostRevoked: HostOperator | null }) | null> {
      const row = await db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return null;
      const hostRevoked =
        row.host_revoked_by === null ? null : { by: row.host_revoked_by, host: row.host_revoked_on ?? '' };
      return { ...view(row), hostMade: hostMadeOf(row), hostRevoked };
    },

    /** Whether any token was ever made, revoked ones included (the demo prints tokens only into a new store). */
    async any(): Promise<boolean> {
      const row = await db.selectFrom('api_tokens').select('id').limit(1).executeTakeFirst();
      return row !== undefined;
    },

    /**
     * Revokes once; revoking again keeps the first time (and its marks). `onHost`: revoked by an operator on the
     * server host, for the server to announce (its revoke-announced time stays NULL until then).
     */
    async revoke(id: string, now: Date, onHost: HostOperator | null = null): Promise<RevokeOutcome> {
      const r = await db
        .updateTable('api_tokens')
        .set({
          revoked_at: now.getTime(),
          ...(onHost ? { host_revoked_by: onHost.by, host_revoked_on: onHost.host } : {}),
        })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) return 'revoked';
      const row = await db.selectFrom('api_tokens').select('id').where('id', '=', id).executeTakeFirst();
      return row ? 'already' : 'unknown';
    },

    /**
     * Marks a host-made token announced, in the caller's transaction (beside the event announcing it); false when
     * it already was (or is not host-made), so across servers sharing the store exactly one writes the event.
     */
    async markAnnounced(id: string, now: Date): Promise<boolean> {
      const r = await db
        .updateTable('api_tokens')
        .set({ host_announced_at: now.getTime() })
        .where('id', '=', id)
        .where('host_made_by', 'is not', null)
        .where('host_announced_at', 'is', null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },

    /** As `markAnnounced`, for a revocation made on the server host. */
    async markRevokeAnnounced(id: string, now: Date): Promise<boolean> {
      const r = await db
        .updateTable('api_tokens')
        .set({ host_revoke_announced_at: now.getTime() })
        .where('id', '=', id)
        .where('host_revoked_by', 'is not', null)
        .where('host_revoke_announced_at', 'is', null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },

    /** Ids of host-made tokens, and of host revocations, the server has not announced yet (oldest first). */
    async unannounced(limit: number): Promise<{ made: string[]; revoked: string[] }> {
      const made = await db
        .selectFrom('api_tokens')
        .select('id')
        .where('host_made_by', 'is not', null)
        .where('host_announced_at', 'is', null)
        .orderBy('created_at')
        .limit(limit)
        .execute();
      const revoked = await db
        .selectFrom('api_tokens')
        .select('id')
        .where('host_revoked_by', 'is not', null)
        .where('host_revoke_announced_at', 'is', null)
        .orderBy('revoked_at')
        .limit(limit)
        .execute();
      return { made: made.map((r) => r.id), revoked: revoked.map((r) => r.id) };
    },
  };
}

export type TokenStore = ReturnType<typeof createTokenStore>;
