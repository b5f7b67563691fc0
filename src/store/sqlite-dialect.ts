import { statfsSync } from 'node:fs';
import type SQLite from 'better-sqlite3';
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  SqliteDialect,
  type SqliteDialectConfig,
} from 'kysely';
import { storeFull } from './store-health.js';

/** Below this much free space the store's disk counts as full: a write's WAL frames and a checkpoint need room. */
export const FREE_SPACE_MARGIN_BYTES = 1024 * 1024;

/** Bytes an unprivileged writer may still use on the filesystem holding `dir`. */
export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/**
 * Whether a SQLite failure means the disk is full: SQLITE_FULL itself, or an I/O error on a filesystem with no
 * room left (the OS said ENOSPC, which SQLite reports as SQLITE_IOERR_WRITE and the like).
 */
function fullCause(err: unknown, dir: string | null): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_FULL') return 'SQLITE_FULL';
  if (typeof code === 'string' && code.startsWith('SQLITE_IOERR') && dir !== null) {
    try {
      if (freeBytes(dir) < FREE_SPACE_MARGIN_BYTES) return 'ENOSPC';
    } catch {
      // The folder cannot be examined: the I/O error stays what it is.
    }
  }
  return null;
}

export interface GuardOptions {
  /** The raw handle (not a proxy of it): its `inTransaction` says whether SQLite already rolled back. */
  sqlite: SQLite.Database;
  /** The folder holding the database file, where free space is measured; null for `:memory:`. */
  dir: string | null;
  /** Told once per failed write that the disk is full, with what SQLite said. */
  onFull(cause: string): void;
}

/**
 * Kysely's SQLite dialect with two repairs for a full disk. SQLite rolls a transaction back by itself when a
 * write finds no room (SQLITE_FULL, SQLITE_IOERR); Kysely then sends ROLLBACK anyway, whose "cannot rollback - no
 * transaction is active" replaced the real error in every answer and log line. Here a ROLLBACK is sent only while
 * a transaction is open, and a full disk becomes STORE_FULL naming its cause.
 */
export class GuardedSqliteDialect extends SqliteDialect {
  readonly #guard: GuardOptions;

  constructor(config: SqliteDialectConfig, guard: GuardOptions) {
    super(config);
    this.#guard = guard;
  }

  override createDriver(): Driver {
    const inner = super.createDriver();
    const { sqlite, dir, onFull } = this.#guard;
    const translate = (err: unknown): unknown => {
      const cause = fullCause(err, dir);
      if (cause === null) return err;
      onFull(cause);
      return storeFull(cause);
    };
    const wrap = (connection: DatabaseConnection): DatabaseConnection => ({
      async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
        try {
          return await connection.executeQuery<R>(query);
        } catch (err) {
          throw translate(err);
        }
      },
      streamQuery: <R>(query: CompiledQuery, chunkSize?: number) =>
        connection.streamQuery<R>(query, chunkSize),
    });
    let wrapped: { raw: DatabaseConnection; guarded: DatabaseConnection } | null = null;
    return {
      init: () => inner.init(),
      async acquireConnection() {
        const raw = await inner.acquireConnection();
        // SQLite has one connection: wrap it once.
        if (wrapped?.raw !== raw) wrapped = { raw, guarded: wrap(raw) };
        return wrapped.guarded;
      },
      beginTransaction: (c, settings) => inner.beginTransaction(c, settings),
      commitTransaction: (c) => inner.commitTransaction(c),
      async rollbackTransaction(c) {
        // Already rolled back by SQLite: a ROLLBACK now would only fail and hide why.
        if (!sqlite.inTransaction) return;
        await inner.rollbackTransaction(c);
      },
      ...(inner.savepoint ? { savepoint: inner.savepoint.bind(inner) } : {}),
      ...(inner.rollbackToSavepoint ? { rollbackToSavepoint: inner.rollbackToSavepoint.bind(inner) } : {}),
      ...(inner.releaseSavepoint ? { releaseSavepoint: inner.releaseSavepoint.bind(inner) } : {}),
      releaseConnection: (c) => inner.releaseConnection(c),
      destroy: () => inner.destroy(),
    };
  }
}
