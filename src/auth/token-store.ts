import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';

/**
 * API tokens look like `stint_<id>.<secret>`. Only SHA-256 of the secret is stored (the secret is 256 random
 * bits, so a slow hash adds nothing); the id finds the row and the hash is compared in constant time.
 */
const TOKEN = /^stint_([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/;

const digest = (secret: string) => createHash('sha256').update(secret).digest();

export function createTokenStore(db: Kysely<Database>) {
  return {
    async create(userId: string, name: string, now: Date, expiresAt: Date | null = null) {
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
        })
        .execute();
      return { id, token: `stint_${id}.${secret}` };
    },

    /** The user id the token belongs to, or null for anything malformed, unknown, revoked or expired. */
    async authenticate(token: string, now: Date): Promise<string | null> {
      const m = TOKEN.exec(token);
      if (!m) return null;
      const [, id, secret] = m as unknown as [string, string, string];
      const row = await db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
      // Compare even when the row is missing, so timing does not tell whether an id exists.
      const expected = row ? Buffer.from(row.hash, 'hex') : Buffer.alloc(32);
      const ok = timingSafeEqual(expected, digest(secret));
      if (!row || !ok || row.revoked_at !== null) return null;
      if (row.expires_at !== null && row.expires_at <= now.getTime()) return null;
      return row.user_id;
    },
  };
}

export type TokenStore = ReturnType<typeof createTokenStore>;
