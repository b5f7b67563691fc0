import { isIP } from 'node:net';
import { Redis } from 'ioredis';
import type { StintError } from '../../domain/errors.js';
import type { Logger } from '../../logger.js';
import { cancelledError, type TargetOwner } from '../provider.js';
import { ownerMarks } from './principal-name.js';
import type { RedisConfig } from './redis-config.js';
import { providerError } from './redis-errors.js';

const CONNECT_TIMEOUT_MS = 3_000;

/** Everything a step needs to reach the target: how to connect as Stint's admin and who Stint is there. */
export interface Admin {
  config: RedisConfig;
  owner: TargetOwner;
  /** The marks this store writes into the names it makes (principal-name.ts). */
  marks: { deployment: string; store: string };
  /** For what happens outside any call (an undo that failed). */
  logger: Logger | undefined;
  /**
   * A failure as the StintError callers see: cancelled when the signal is aborted, else the driver's message
   * with every known secret removed.
   */
  fail(action: string, err: unknown, signal: AbortSignal, extraSecrets?: readonly string[]): StintError;
}

export function adminFor(config: RedisConfig, owner: TargetOwner, logger?: Logger): Admin {
  const { resourceId } = config;
  return {
    config,
    owner,
    marks: ownerMarks(owner),
    logger,
    fail(action, err, signal, extraSecrets = []) {
      if (signal.aborted) return cancelledError(`redis target ${resourceId}: ${action}`, signal);
      return providerError(resourceId, action, err, [...config.secrets, ...extraSecrets]);
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

/** One authenticated admin connection, used for one provider call and closed after it. */
export interface Session {
  /** The server's id for this connection (`CLIENT LIST id=`), to wait it out when its last command's fate is unknown. */
  id: number;
  /** `7.0.15`. */
  version: string;
  /** One command; rejects with Aborted once the call's signal fires (the command may still run on the server). */
  call(...args: string[]): Promise<unknown>;
}

/**
 * A fresh connection per call rather than a shared one: an abort simply drops it, and no call inherits another's
 * broken socket or half-read reply. Connecting costs one round trip for AUTH and one for HELLO on a local target.
 * No reconnect, no offline queue: a target that is down fails the call at once, and the caller retries.
 */
export async function withSession<T>(
  admin: Admin,
  signal: AbortSignal,
  fn: (session: Session) => Promise<T>,
): Promise<T> {
  checkSignal(signal);
  const { config } = admin;
  const client = new Redis({
    host: config.host,
    port: config.port,
    username: config.username,
    password: config.password,
    // SNI takes a host name only; for an address the certificate is checked against the address.
    ...(config.tls ? { tls: isIP(config.host) ? {} : { servername: config.host } } : {}),
    lazyConnect: true,
    // RESP2 and a plain AUTH, no client-info or maintenance handshake: those send CLIENT subcommands Stint's
    // admin has no right to, and replies keep RESP2's shapes.
    protocol: 2,
    disableClientInfo: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: CONNECT_TIMEOUT_MS,
  });
  // A refused login or a refused connection reaches connect() only as "Connection is closed": the reason comes
  // as an 'error' event (unhandled, it would also be an unhandled 'error' event).
  let reason: unknown;
  client.on('error', (err) => {
    reason ??= err;
  });
  const race = <R>(p: Promise<R>): Promise<R> => {
    // Handled here too: after an abort the command's own failure (the dropped connection) is no longer wanted.
    p.catch(() => {});
    return new Promise<R>((resolve, reject) => {
      const onAbort = () => reject(new Aborted('aborted'));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  };
  try {
    await race(client.connect()).catch((err: unknown) => {
      throw err instanceof Aborted ? err : (reason ?? err);
    });
    // HELLO needs no ACL permission (it is a no-auth command) and answers the connection id and version.
    const hello = (await race(client.call('HELLO'))) as unknown[];
    const field = (name: string) => hello[hello.indexOf(name) + 1];
    const session: Session = {
      id: Number(field('id')),
      version: String(field('version') ?? 'unknown'),
      call: (command, ...rest) => race(client.call(command as string, ...rest)),
    };
    return await fn(session);
  } finally {
    client.disconnect();
  }
}
