import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** The id migration 0007 gave this store; every server on the store reads the same one. */
export async function readStoreId(db: Kysely<Database>): Promise<string> {
  const row = await db.selectFrom('store_identity').select('store_id').where('id', '=', 1).executeTakeFirst();
  if (!row) throw new Error('the store has no identity row: was it migrated?');
  return row.store_id;
}
