import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import { PROXY_CIPHERS } from './ciphers.js';
import { handleConnection } from './proxied-connection.js';
import type { ProxiedSession, ProxyDeps } from './proxy-context.js';

const LOGIN_GRACE_MS = 60_000;

export interface SshProxyListen {
  host: string;
  port: number;
  /** The proxy's own host key (OpenSSH private key text): users pin it (docs/recording.md). */
  hostKey: string;
}

/**
 * Stint's SSH proxy: users log in to it with their Stint certificate (`ssh -p <port> <account>@<proxy>`), it logs
 * in to the host on their behalf with a certificate of its own for that session, and records what happens.
 */
export function createSshProxy(deps: ProxyDeps, listen: SshProxyListen) {
  const sessions = new Set<ProxiedSession>();
  const clients = new Set<ssh2.Connection>();
  const server = new ssh2.Server(
    {
      hostKeys: [listen.hostKey],
      ident: 'Stint-proxy',
      keepaliveInterval: 15_000,
      algorithms: { cipher: PROXY_CIPHERS },
    },
    (client, info) => {
      clients.add(client);
      // sshd's LoginGraceTime: a connection that has not logged in by then is dropped.
      const grace = setTimeout(() => client.end(), LOGIN_GRACE_MS);
      client.once('ready', () => clearTimeout(grace));
      client.once('close', () => {
        clearTimeout(grace);
        clients.delete(client);
      });
      handleConnection(deps, client, info, sessions);
    },
  );
  // A listening error is the start's failure; a connection's errors are its own (proxied-connection.ts).
  server.on('error', (e: Error) => deps.logger.error({ err: e.message }, 'ssh proxy: server error'));
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
    /** Ends every session (recordings sealed), then stops listening. */
    async stop(): Promise<void> {
      deps.watch.stop();
      await Promise.all([...sessions].map((s) => s.end('the proxy is stopping')));
      await deps.activity.flush();
      for (const client of clients) client.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    address: () => ({ host: listen.host, port }),
    sessions: () => [...sessions],
  };
}

export type SshProxy = ReturnType<typeof createSshProxy>;
