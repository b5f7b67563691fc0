import mysql from 'mysql2/promise';
import type { StintError } from '../../domain/errors.js';
import type { Logger } from '../../logger.js';
import { cancelledError, type TargetOwner } from '../provider.js';
import type { MariaDbConfig } from './mariadb-config.js';
import { providerError } from './mariadb-errors.js';

/** A statement that waits this long for a lock is abandoned rather than hanging a sweep (seconds). */
const LOCK_WAIT_S = 5;
const CONNECT_TIMEOUT_MS = 2_000;

/**
 * Every admin session runs in UTC, so the window's end written into the metadata row and the expiry EVENT means
 * the same instant whatever the server's own time zone; and without NO_BACKSLASH_ESCAPES, so that `literal()`
 * (the driver's connection-free quoting, backslash before a quote) means to the server what it meant here. Only
 * checked names go through it, but this keeps it true for anything.
 */
const SESSION_SETUP = `SET SESSION time_zone = '+00:00', lock_wait_timeout = ${LOCK_WAIT_S}, innodb_lock_wait_timeout = ${LOCK_WAIT_S}, sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')`;

export type Conn = mysql.PoolConnection | mysql.Connection;
export type Row = mysql.RowDataPacket;

/** Everything a step needs to reach the target: the admin pool and who Stint is there. */
export interface Admin {
  config: MariaDbConfig;
  owner: TargetOwner;
  pool: mysql.Pool;
  /** For what happens outside any call (an undo that failed, the expiry backstop off). */
  logger: Logger | undefined;
  /**
   * A failure as the StintError callers see: cancelled when the signal is aborted, else the driver's message
   * with every known secret removed.
   */
  fail(action: string, err: unknown, signal: AbortSignal, extraSecrets?: readonly string[]): StintError;
}

export function connectAdmin(config: MariaDbConfig, owner: TargetOwner, logger?: Logger): Admin {
  const pool = mysql.createPool({
    host: config.host,
    port: config.port,
    user: config.user,
    password: config.password,
    connectionLimit: 4,
    maxIdle: 2,
    idleTimeout: 30_000,
    connectTimeout: CONNECT_TIMEOUT_MS,
    enableKeepAlive: true,
    dateStrings: true,
    multipleStatements: false,
  });
  // Queued on each new connection before the pool hands it out, so it runs before anything else on it.
  pool.pool.on('connection', (c) => {
    c.query(SESSION_SETUP, () => {});
  });
  const { resourceId } = config;
  return {
    config,
    owner,
    pool,
    logger,
    fail(action, err, signal, extraSecrets = []) {
      if (signal.aborted) return cancelledError(`mariadb target ${resourceId}: ${action}`, signal);
      return providerError(resourceId, action, err, extraSecrets);
    },
  };
}

/** Thrown inside a step when its signal aborts; `Admin.fail` turns it into the caller's cancellation error. */
class Aborted extends Error {
  override readonly name = 'Aborted';
}

export function checkSignal(signal: AbortSignal): void {
  if (signal.aborted) throw new Aborted('aborted');
}

/**
 * Cuts a connection at once. mysql2's `destroy()` only half-closes the socket, so a statement in flight would
 * still run to its answer; closing the socket fails it now. The server may still finish that statement: callers
 * that care (an issuance) end its thread and wait it out.
 */
export function cut(conn: Conn): void {
  const core = (conn as unknown as { connection?: { stream?: { destroy(err?: Error): void } } }).connection;
  // With an error, mysql2 fails whatever is queued on the connection; a plain close after destroy() would not.
  core?.stream?.destroy(Object.assign(new Error('connection cut by Stint'), { code: 'STINT_CUT' }));
  conn.destroy();
}

/** Settles with `pending`, or rejects with Aborted once the signal fires (calling `onAbort` first). */
function abortable<T>(
  pending: Promise<T>,
  signal: AbortSignal,
  onAbort: (late: Promise<T>) => void,
): Promise<T> {
  if (signal.aborted) {
    onAbort(pending);
    return Promise.reject(new Aborted('aborted'));
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort(pending);
      reject(new Aborted('aborted'));
    };
    signal.addEventListener('abort', abort, { once: true });
    pending.then(
      (v) => {
        signal.removeEventListener('abort', abort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(err);
      },
    );
  });
}

/** A pooled admin connection, or Aborted once the signal fires: one that arrives after is discarded. */
function checkout(pool: mysql.Pool, signal: AbortSignal): Promise<mysql.PoolConnection> {
  checkSignal(signal);
  return abortable(pool.getConnection(), signal, (late) => {
    late.then(cut, () => {});
  });
}

/**
 * Runs `fn` on one admin connection; `conn.threadId` names its server thread. An abort cuts that connection, which
 * fails the statement in flight at once. After any failure the connection is discarded, not pooled: its state
 * is unknown.
 */
export async function withConnection<T>(
  admin: Admin,
  signal: AbortSignal,
  fn: (conn: mysql.PoolConnection) => Promise<T>,
): Promise<T> {
  const conn = await checkout(admin.pool, signal);
  const onAbort = () => cut(conn);
  signal.addEventListener('abort', onAbort, { once: true });
  let failed = false;
  try {
    return await fn(conn);
  } catch (err) {
    failed = true;
    throw signal.aborted ? new Aborted('aborted') : err;
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (failed || signal.aborted) cut(conn);
    else conn.release();
  }
}

/** One statement on a pooled connection, cancellable; resolves to its rows. */
export function query<R extends Row>(
  admin: Admin,
  signal: AbortSignal,
  sql: string,
  params: unknown[] = [],
): Promise<R[]> {
  return withConnection(admin, signal, async (c) => (await c.query<R[]>(sql, params))[0]);
}

/**
 * Runs `fn` on a connection of its own (not pooled) as `user`, cut when the signal aborts or `fn` fails, else
 * closed politely.
 */
export async function asUser<T>(
  admin: Admin,
  user: string,
  password: string,
  signal: AbortSignal,
  fn: (conn: mysql.Connection) => Promise<T>,
): Promise<T> {
  const pending = mysql.createConnection({
    host: admin.config.host,
    port: admin.config.port,
    user,
    password,
    connectTimeout: CONNECT_TIMEOUT_MS,
  });
  const conn = await abortable(pending, signal, (late) => {
    late.then(cut, () => {});
  });
  // A connection lost between statements is reported by the next one; unhandled, the event would end the process.
  (conn as unknown as { connection: { on(e: string, f: () => void): void } }).connection.on(
    'error',
    () => {},
  );
  const onAbort = () => cut(conn);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const result = await fn(conn);
    await conn.end();
    return result;
  } catch (err) {
    cut(conn);
    throw signal.aborted ? new Aborted('aborted') : err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** An account name as MariaDB quotes it: `'user'@'host'`; both parts are checked names, never user input. */
export function account(user: string, host: string): string {
  return `${mysql.escape(user)}@${mysql.escape(host)}`;
}

export const ident = (name: string) => mysql.escapeId(name);
export const literal = (value: string) => mysql.escape(value);
