import { type AddressInfo, createServer, type Socket } from 'node:net';
import { createCancelKeys } from './cancel-keys.js';
import { clientHandshake } from './client-handshake.js';
import type { PgProxyDeps } from './pg-proxy-context.js';
import { type PgSession, runPgSession } from './pg-session.js';
import { MalformedPacket } from './wire.js';

/** A client that has not finished its start-up by then is dropped (PostgreSQL's authentication_timeout is 60 s). */
const STARTUP_GRACE_MS = 30_000;

export interface PgProxyListen {
  host: string;
  port: number;
}

/**
 * Stint's PostgreSQL proxy: users connect to it with their grant's role and the proxy secret they took (TLS and
 * SCRAM-SHA-256), it logs in to the target with the role's real password (which they never see) and logs every
 * statement of the session into a sealed recording. Errors of one connection (a malformed packet, a dropped
 * socket) end that session only.
 */
export function createPgProxy(deps: PgProxyDeps, listen: PgProxyListen) {
  const sessions = new Set<PgSession>();
  const sockets = new Set<Socket>();
  const cancels = createCancelKeys();

  const refused = (client: string | null) => (user: string, reason: string, requestId: string | null) => {
    deps.logger.warn({ client, user, reason }, 'pg proxy: login refused');
    if (requestId) {
      deps.activity.push({
        at: deps.clock(),
        actor: 'stint',
        action: 'session.refused',
        requestId,
        details: { protocol: 'postgres', account: user, client, reason },
      });
    }
  };

  async function handle(raw: Socket): Promise<void> {
    const client = raw.remoteAddress ?? null;
    raw.setNoDelay(true);
    const grace = setTimeout(() => raw.destroy(), STARTUP_GRACE_MS);
    try {
      const shake = await clientHandshake(deps, raw, refused(client));
      clearTimeout(grace);
      if (shake.kind === 'cancel') {
        // A cancel gets no answer, routed or not (as PostgreSQL's): the client learns nothing of other sessions.
        raw.end();
        await cancels.route(shake.pid, shake.secret);
        return;
      }
      if (shake.kind === 'refused') return;
      await runPgSession(deps, shake.socket, client, shake.grant, shake.params, cancels, sessions);
    } catch (e) {
      clearTimeout(grace);
      const reason = e instanceof MalformedPacket ? e.message : `start-up failed: ${(e as Error).message}`;
      deps.logger.warn({ client, reason }, 'pg proxy: connection closed');
      raw.destroy();
    }
  }

  const server = createServer((raw) => {
    sockets.add(raw);
    raw.on('error', () => {});
    raw.once('close', () => sockets.delete(raw));
    void handle(raw);
  });
  server.on('error', (e: Error) => deps.logger.error({ err: e.message }, 'pg proxy: server error'));
  let port = 0;

  return {
    async start(): Promise<void> {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(listen.port, listen.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      port = (server.address() as AddressInfo).port;
      deps.watch.start();
    },
    /** Ends every session (FATAL 57P01 to the client, logs sealed), then stops listening. */
    async stop(): Promise<void> {
      deps.watch.stop();
      await Promise.all(
        [...sessions].map((s) =>
          s.end('the proxy is stopping', {
            code: '57P01',
            message: 'terminating connection: the Stint proxy is stopping',
          }),
        ),
      );
      await deps.activity.flush();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    address: () => ({ host: listen.host, port }),
    sessions: () => [...sessions],
  };
}

export type PgProxy = ReturnType<typeof createPgProxy>;
