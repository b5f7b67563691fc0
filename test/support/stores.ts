import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrate, openDatabase, type StintDatabase } from '../../src/store/database.js';
import type { Dialect } from '../../src/store/migrations/migration-context.js';

/** The engines Stint's own store runs on (its dialects): named apart from the `postgres` target kind. */
export type StoreKind = Dialect;
export const STORE_KINDS: StoreKind[] = ['sqlite', 'postgresql'];

/** The machine's PostgreSQL (trust auth): fine as Stint's own store, where no password is being tested. */
export const MACHINE_PG = process.env.STINT_TEST_STORE_PG ?? 'postgres://postgres@127.0.0.1:5432';

export interface TestStore {
  store: StintDatabase;
  url: string;
  close(): Promise<void>;
}

/** A fresh, migrated store: a temp SQLite file, or a new database on the machine's PostgreSQL. */
export async function createTestStore(
  kind: StoreKind,
  options: { poolSize?: number } = {},
): Promise<TestStore> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'stint-store-'));
    const url = `sqlite:${join(dir, 'stint.db')}`;
    const store = openDatabase(url);
    await migrate(store);
    return {
      store,
      url,
      async close() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const name = `stint_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: `${MACHINE_PG}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = `${MACHINE_PG}/${name}`;
  const store = openDatabase(url, options);
  await migrate(store);
  return {
    store,
    url,
    async close() {
      await store.close();
      const c = new pg.Client({ connectionString: `${MACHINE_PG}/postgres` });
      await c.connect();
      // Without FORCE first: forcing would kill pool connections that are still closing, and their 'error'
      // would surface as an unhandled error in whichever test runs next.
      for (let attempt = 0; ; attempt++) {
        try {
          await c.query(`DROP DATABASE IF EXISTS ${name}${attempt >= 40 ? ' WITH (FORCE)' : ''}`);
          break;
        } catch (e) {
          if (attempt >= 40) throw e;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      await c.end();
    },
  };
}
