import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SecretBox } from '../crypto/secret-box.js';
import type { StintDatabase } from '../store/database.js';
import { notifyDb } from './notify-tables.js';

const KEY_ID = 'ack';
const AAD = 'stint-notify-ack-key/v1';
const PREFIX = 'ack_';

export interface AckTokens {
  /** The token a delivery's message carries: whoever holds the message may acknowledge it, nobody else. */
  token(deliveryId: string): Promise<string>;
  /** Whether `token` is the one for `deliveryId`, compared in constant time. */
  verify(deliveryId: string, token: string): Promise<boolean>;
}

/**
 * Acknowledgement tokens: HMAC-SHA256 over the delivery id, keyed with 32 random bytes made once per store and
 * kept there sealed by the server's secret box. Every server sharing the store (and its encryption key) makes
 * and checks the same tokens; someone who can read the store but not the encryption key cannot forge one.
 */
export function createAckTokens(deps: { store: StintDatabase; secrets: SecretBox }): AckTokens {
  const db = notifyDb(deps.store.db);
  let key: Promise<Buffer> | null = null;

  async function loadKey(): Promise<Buffer> {
    const read = () =>
      db.selectFrom('notify_keys').select('sealed').where('id', '=', KEY_ID).executeTakeFirst();
    let row = await read();
    if (!row) {
      const sealed = deps.secrets.seal(randomBytes(32).toString('base64'), AAD);
      // Two servers making the key at once: one insert wins and both read it back.
      await db
        .insertInto('notify_keys')
        .values({ id: KEY_ID, sealed, created_at: Date.now() })
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
      row = await read();
    }
    if (!row) throw new Error('the acknowledgement key could not be stored');
    return Buffer.from(deps.secrets.open(row.sealed, AAD), 'base64');
  }

  const mac = async (deliveryId: string) => {
    key ??= loadKey().catch((e: unknown) => {
      key = null;
      throw e;
    });
    return createHmac('sha256', await key)
      .update(`stint-notify-ack/v1\n${deliveryId}`)
      .digest();
  };

  return {
    async token(deliveryId) {
      return `${PREFIX}${(await mac(deliveryId)).toString('base64url')}`;
    },
    async verify(deliveryId, token) {
      // The text as issued, not its decoding: base64url's last character carries two unused bits, so four
      // spellings decode to the same MAC, and only the one Stint wrote is the token.
      const expected = Buffer.from(`${PREFIX}${(await mac(deliveryId)).toString('base64url')}`);
      const given = Buffer.from(token);
      // Equal lengths first (timingSafeEqual requires it); the length of a token is no secret.
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}
