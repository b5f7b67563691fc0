import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import { StintError } from '../domain/errors.js';
import { migrationProvider } from './migrations/index.js';
import type { Dialect } from './migrations/migration-context.js';
import {
  createMigrationPool,
  createStorePool,
  DEFAULT_STORE_TIMEOUTS,
  type StoreTimeouts,
} from './pg-pool.js';
import type { Database } from './schema.js';
import { FREE_SPACE_MARGIN_BYTES, freeBytes, GuardedSqliteDialect } from './sqlite-dialect.js';
import { restrictSqliteFiles } from './sqlite-file-mode.js';
import { createStoreMonitor, type StoreHealth, storeFull } from './store-health.js';
import { type StoreTraits, storeTraits } from './store-traits.js';

export interface StintDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
  /** What the engine offers that behaviour depends on (locks, one writer). */
  traits: StoreTraits;
  /** Whether the store answers: for readiness, for refusing work at once during an outage, for catching up after. */
  health: StoreHealth;
  /** Where migrations run: the same store without statement timeouts (a new index may take long). */
  forMigrations(): { db: Kysely<Database>; close(): Promise<void> };
  close(): Promise<void>;
}

const STATEMENT_CACHE = 500;

/**
 * Kysely prepares every SQLite statement afresh; preparing is a sizeable share of a request's CPU. Statements
 * are reusable, and Kysely's SQLite driver runs one at a time, so one prepared statement per SQL text is safe.
 */
function withStatementCache(sqlite: SQLite.Database): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>();
  return new Proxy(sqlite, {
    get(target, prop, receiver) {
      if (prop !== 'prepare') {
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return (source: string) => {
        let stmt = cache.get(source);
        if (!stmt) {
          stmt = target.prepare(source);
          if (cache.size >= STATEMENT_CACHE) cache.delete(cache.keys().next().value as string);
          cache.set(source, stmt);
        }
        return stmt;
      };
    },
  });
}

/**
 * Opens the store named by a URL: `sqlite:<file>` (the embedded default), `sqlite::memory:`, or
 * `postgres://…` for several Stint servers sharing one database.
 */
export function openDatabase(
  url: string,
  options: { poolSize?: number; timeouts?: StoreTimeouts } = {},
): StintDatabase {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    if (file !== ':memory:') {
      // A folder made here is the owner's only; an existing one is the operator's to set.
      mkdirSync(dirname(resolve(file)), { recursive: true, mode: 0o700 });
      restrictSqliteFiles(file);
    }
    const sqlite = new SQLite(file);
    // WAL lets readers proceed during a write; synchronous=NORMAL is durable across process crashes in WAL mode.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    // better-sqlite3 builds SQLite with a 16 MB page cache (SQLite's own default is 2 MB). It fills as the file
    // grows, ~14 MB of RSS with 10,000 grants (docs/performance.md); the file's pages stay in the OS page cache.
    sqlite.pragma('cache_size = -2000');
    const dir = file === ':memory:' ? null : dirname(resolve(file));
    let lastCause = 'SQLITE_FULL';
    const read = () => db.selectFrom('requests').select('id').limit(1).execute();
    // Nothing to lose contact with in-process, but the disk can fill: then the store is out until it has room.
    const health = createStoreMonitor({
      async probe() {
        if (dir !== null && freeBytes(dir) < FREE_SPACE_MARGIN_BYTES) throw storeFull(lastCause);
        await read();
      },
      query: read,
      minBackoffMs: 100,
      maxBackoffMs: 1000,
    });
    const dialect = new GuardedSqliteDialect(
      { database: withStatementCache(sqlite) },
      {
        sqlite,
        dir,
        onFull(cause) {
          lastCause = cause;
          health.suspect();
        },
      },
    );
    const db = new Kysely<Database>({ dialect });
    return {
      db,
      dialect: 'sqlite',
      traits: storeTraits('sqlite'),
      health,
      forMigrations: () => ({ db, close: async () => {} }),
      close: async () => {
        health.close();
        await db.destroy();
      },
    };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const timeouts = options.timeouts ?? DEFAULT_STORE_TIMEOUTS;
    const { pool, health } = createStorePool(url, { poolSize: options.poolSize ?? 10, timeouts });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const forMigrations = () => {
      const migrations = new Kysely<Database>({
        dialect: new PostgresDialect({ pool: createMigrationPool(url, timeouts) }),
      });
      return { db: migrations, close: () => migrations.destroy() };
    };
    return {
      db,
      dialect: 'postgresql',
      traits: storeTraits('postgresql'),
      health,
      forMigrations,
      close: () => db.destroy(),
    };
  }
  throw new StintError('CONFIG_INVALID', 'database URL must start with sqlite: or postgres://');
}

export async function migrate(store: StintDatabase): Promise<void> {
  const target = store.forMigrations();
  const migrator = new Migrator({ db: target.db, provider: migrationProvider({ dialect: store.dialect }) });
  const { error, results } = await migrator.migrateToLatest().finally(() => target.close());
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(
      `database migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
