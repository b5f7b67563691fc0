import pg from 'pg';
import type { StintError } from '../../domain/errors.js';
import type { Logger } from '../../logger.js';
import { cancelledError, type TargetOwner } from '../provider.js';
import type { PostgresConfig } from './postgres-config.js';
import { isServerError, providerError } from './postgres-errors.js';

/** A statement that waits this long for a lock is abandoned rather than hanging a sweep. */
const LOCK_TIMEOUT_MS = 5_000;
const STATEMENT_TIMEOUT_MS = 15_000;

/** Everything a step needs to reach the target: the admin pool and who Stint is there. */
export interface Admin {
  config: PostgresConfig;
  owner: TargetOwner;
  pool: pg.Pool;
  /** For what happens outside any call (an idle connection dropped, an undo that failed). */
  logger: Logger | undefined;
  /**
   * A failure as the StintError callers see: cancelled when the signal is aborted, else the driver's message
   * with every known secret removed.
   */
  fail(action: string, err: unknown, signal: AbortSignal, extraSecrets?: readonly string[]): StintError;
}

export function connectAdmin(config: PostgresConfig, owner: TargetOwner, logger?: Logger): Admin {
  const pool = new pg.Pool({
    connectionString: config.adminUrl,
    // As many as the wrapper's queue admits at once, so no call waits inside the pool on its connect timeout.
    max: config.concurrency,
    connectionTimeoutMillis: 2_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    lock_timeout: LOCK_TIMEOUT_MS,
    application_name: 'stint',
  });
  // The admin URL's secrets are the wrapper's to scrub (config.secrets), from errors and from this logger's
  // lines alike; here only what a call itself makes (an issued password) is redacted, by the call.
  const { resourceId } = config;
  // An idle admin connection dropped by the server emits 'error' on the pool; unhandled, it would end the process.
  pool.on('error', (err) => {
    logger?.warn(
      { resource: resourceId, error: providerError(resourceId, 'idle connection', err, []).message },
      'postgres admin connection lost',
    );
  });
  return {
    config,
    owner,
    pool,
    logger,
    fail(action, err, signal, extraSecrets = []) {
      if (signal.aborted) return cancelledError(`postgres target ${resourceId}: ${action}`, signal);
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

/** A pooled connection, or Aborted once the signal fires: a connection that arrives after is handed back. */
function checkout(pool: pg.Pool, signal: AbortSignal): Promise<pg.PoolClient> {
  checkSignal(signal);
  const pending = pool.connect();
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new Aborted('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (client) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) client.release();
        else resolve(client);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/**
 * Runs `fn` on one admin connection. An abort closes that connection, which stops the statement it is running
 * (and rolls back an open transaction server-side). After any failure the connection is discarded, not pooled:
 * its session state is unknown.
 */
export async function withConnection<T>(
  admin: Admin,
  signal: AbortSignal,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await checkout(admin.pool, signal);
  const onAbort = () => void client.end().catch(() => {});
  signal.addEventListener('abort', onAbort, { once: true });
  // A connection lost between two statements is reported by the next one; the pool's own listener covers only
  // idle clients, so without this an 'error' on a checked-out client would end the process.
  const onError = () => {};
  client.on('error', onError);
  let failed = false;
  try {
    return await fn(client);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
    client.off('error', onError);
    client.release(failed || signal.aborted ? true : undefined);
  }
}

/** One statement on its own connection, cancellable. */
export function query<R extends pg.QueryResultRow>(
  admin: Admin,
  signal: AbortSignal,
  sql: string,
  params: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  return withConnection(admin, signal, (c) => c.query<R>(sql, params));
}

/**
 * Rolls back after a failed statement. True when the connection itself is gone (or cannot roll back): what it
 * sent last, a COMMIT included, may or may not have taken effect.
 */
export async function rollback(client: pg.PoolClient, err: unknown): Promise<boolean> {
  if (!isServerError(err)) return true;
  try {
    await client.query('ROLLBACK');
    return false;
  } catch {
    return true;
  }
}

export const ident = (name: string) => pg.escapeIdentifier(name);
export const literal = (value: string) => pg.escapeLiteral(value);
