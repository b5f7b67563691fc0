import type { PostgresPool, PostgresPoolClient } from 'kysely';
import pg from 'pg';
import { isStintError } from '../domain/errors.js';
import { SOCKET_ERROR_CODES } from '../socket-errors.js';
import { createStoreMonitor, type StoreHealth, storeFull, storeUnavailable } from './store-health.js';

const INT8_OID = 20;

/**
 * SQLSTATEs that say the store, not the statement, is the problem: class 08 (connection exception), the server
 * shutting down or starting up (57P01–57P03), a statement cancelled by `statement_timeout` (57014), no free
 * connection slot (53300), and a write reaching a standby during a failover (25006).
 */
const STORE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57014', '53300', '25006']);

/** disk_full: the store's server could not extend a file. */
const DISK_FULL = '53100';

/** pg's own messages for a broken or timed-out connection (they carry no code). */
const DRIVER_MESSAGES =
  /^(Connection terminated|timeout expired|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Client was closed)/;

/** Whether an error means the store is unreachable, hung or going away, rather than that a statement failed. */
export function isStoreOutage(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (SOCKET_ERROR_CODES.has(code) || STORE_SQLSTATES.has(code) || code.startsWith('08')) return true;
  }
  return DRIVER_MESSAGES.test(err.message);
}

/** During a failover the address may still lead to a standby (or the demoted primary): not usable yet. */
async function writable(db: pg.Pool | pg.Client): Promise<void> {
  const { rows } = await db.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
  if (rows[0]?.standby !== false) throw new Error('the store is a standby (in recovery)');
}

export interface StoreTimeouts {
  /** Opening a connection, and waiting for a free one in the pool. */
  connectMs: number;
  /** One statement, enforced by the server; the client gives up a little later in case the server is hung. */
  statementMs: number;
}

export const DEFAULT_STORE_TIMEOUTS: StoreTimeouts = { connectMs: 3000, statementMs: 10_000 };

/** How much longer than the server's statement_timeout the client waits, so a live server reports first. */
const CLIENT_MARGIN_MS = 1000;

function clientConfig(url: string, t: StoreTimeouts): pg.ClientConfig {
  return {
    connectionString: url,
    connectionTimeoutMillis: t.connectMs,
    statement_timeout: t.statementMs,
    // Stint's transactions are short and make no network calls; one left idle this long belongs to a stuck
    // process, and its row locks must not stall the other servers.
    idle_in_transaction_session_timeout: t.statementMs,
    query_timeout: t.statementMs + CLIENT_MARGIN_MS,
    // Instants are bigint epoch milliseconds: well inside Number's exact range.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  };
}

/**
 * One connection for schema migrations: bounded to connect, but free of statement timeouts, since building an
 * index on a large table may rightly take minutes. It runs only at start-up, before any request is served.
 */
export function createMigrationPool(url: string, timeouts: StoreTimeouts): pg.Pool {
  const { statement_timeout, idle_in_transaction_session_timeout, query_timeout, ...config } = clientConfig(
    url,
    timeouts,
  );
  const pool = new pg.Pool({ ...config, max: 1 });
  pool.on('error', () => {});
  return pool;
}

/**
 * A pg pool for Kysely that survives the store going away: a dropped connection (restart, failover,
 * pg_terminate_backend) is an event to handle, never an unhandled 'error' that ends the process; every call is
 * bounded; an outage becomes STORE_UNAVAILABLE, answered at once while it lasts; and a monitor probes with backoff
 * so the store's return is noticed within a fraction of a second.
 */
export function createStorePool(
  url: string,
  options: { poolSize: number; timeouts: StoreTimeouts },
): { pool: PostgresPool; health: StoreHealth } {
  const config = clientConfig(url, options.timeouts);
  const pool = new pg.Pool({ ...config, max: options.poolSize });
  const probeMs = Math.min(options.timeouts.connectMs, 1000);

  const health = createStoreMonitor({
    async probe() {
      const client = new pg.Client({
        ...config,
        connectionTimeoutMillis: probeMs,
        query_timeout: probeMs,
      });
      client.on('error', () => {});
      try {
        await client.connect();
        await writable(client);
      } finally {
        client.end().catch(() => {});
      }
    },
    query: () => writable(pool),
  });

  // An idle connection the server dropped: the pool discards it; what matters is whether the store is still there.
  pool.on('error', () => health.suspect());
  // A checked-out connection can break between two statements of a transaction, with no query to receive it.
  pool.on('connect', (client) => client.on('error', () => health.suspect()));

  const translate = (err: unknown): unknown => {
    // The store's server answers but its disk is full: nothing was written; said as such, not as a 500.
    if (err instanceof pg.DatabaseError && err.code === DISK_FULL) return storeFull(`SQLSTATE ${DISK_FULL}`);
    if (isStintError(err) || !isStoreOutage(err)) return err;
    health.suspect();
    return storeUnavailable();
  };

  const wrap = (client: pg.PoolClient): PostgresPoolClient => {
    let broken = false;
    return {
      // Text queries only: the dialect is configured without a cursor, so Kysely never passes one.
      query: (async (sql: string, parameters: readonly unknown[]) => {
        try {
          return await client.query(sql, [...parameters]);
        } catch (err) {
          // A timed-out query may still be running on the server: that connection is not reusable.
          if (isStoreOutage(err)) broken = true;
          throw translate(err);
        }
      }) as unknown as PostgresPoolClient['query'],
      release: (discard?: boolean) => client.release(discard === true || broken),
    } as PostgresPoolClient;
  };

  return {
    pool: {
      async connect() {
        // While the store is known to be out, answer at once instead of queueing behind timeouts.
        if (!health.available()) throw storeUnavailable();
        try {
          return wrap(await pool.connect());
        } catch (err) {
          throw translate(err);
        }
      },
      async end() {
        health.close();
        await pool.end();
      },
    },
    health,
  };
}
