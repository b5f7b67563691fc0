import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type StintDatabase } from '../../src/store/database.js';
import { createTestStore, type TestStore } from '../support/stores.js';

/** Every call to the PostgreSQL store is bounded, except schema migrations, which may rightly take long. */
describe('store timeouts on PostgreSQL', () => {
  let fresh: TestStore;
  let store: StintDatabase;
  beforeAll(async () => {
    fresh = await createTestStore('postgresql');
    store = openDatabase(fresh.url, { timeouts: { connectMs: 2000, statementMs: 300 } });
  });
  afterAll(async () => {
    await store?.close();
    await fresh?.close();
  });

  it('a statement running past statement_timeout is cancelled and answers STORE_UNAVAILABLE', async () => {
    const began = Date.now();
    await expect(sql`SELECT pg_sleep(5)`.execute(store.db)).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
    });
    expect(Date.now() - began).toBeLessThan(3000);
    // The store itself is fine: the next call works.
    const { rows } = await sql<{ one: number }>`SELECT 1 AS one`.execute(store.db);
    expect(rows[0]?.one).toBe(1);
  });

  it('a transaction left idle past idle_in_transaction_session_timeout is ended by the server, not the process', async () => {
    const work = store.db.transaction().execute(async (trx) => {
      await sql`SELECT 1`.execute(trx);
      await new Promise((r) => setTimeout(r, 1500));
      await sql`SELECT 1`.execute(trx);
    });
    await expect(work).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    const { rows } = await sql<{ one: number }>`SELECT 1 AS one`.execute(store.db);
    expect(rows[0]?.one).toBe(1);
  });

  it('migrations run on a connection without the statement timeout', async () => {
    const migrations = store.forMigrations();
    try {
      const { rows } = await sql<{ done: string }>`SELECT pg_sleep(0.6)::text AS done`.execute(migrations.db);
      expect(rows).toHaveLength(1);
    } finally {
      await migrations.close();
    }
  });
});
