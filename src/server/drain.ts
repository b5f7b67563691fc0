import { Server as NetServer, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** How long shutdown waits for requests in flight before it cuts what is left. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

/**
 * Shutdown drains instead of dropping. Node's `server.close()` ends every connection it deems idle, and a
 * connection whose request is still in its buffer (accepted, not yet parsed) counts as idle: during a burst,
 * SIGTERM reset most callers, who never learned whether their approval committed. Fastify then answered the
 * rest 503 unprocessed. So the app is built with neither (`forceCloseConnections: false`,
 * `return503OnClosing: false`) and closing runs here, before Fastify's own close:
 *
 * 1. one turn of the event loop, so connections the kernel completed are accepted rather than reset with the
 *    listener;
 * 2. the listener stops (no new connections), without Node's idle reaping;
 * 3. connections that already had their answer and sit idle (keep-alive) are ended; every answer from now on
 *    says `Connection: close`, so each connection ends with the answer to the request it carries;
 * 4. when the last connection has ended, or after `timeoutMs`, closing goes on (what is left is cut, and
 *    counted in a warning).
 */
export function drainOnClose(
  app: FastifyInstance,
  opts: { timeoutMs?: number; onCut?: (connections: number) => void } = {},
): void {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  let closing = false;
  /** Requests in flight per open connection; a connection with none that has answered one is idle. */
  const inFlight = new Map<Socket, number>();
  const answered = new WeakSet<Socket>();

  let accepted = 0;
  /**
   * Turns of the event loop until one passes with no connection accepted: those the kernel completed before
   * the listener stops are taken in (and served) rather than reset with it. Two immediates span one poll phase.
   */
  async function acceptWaiting(): Promise<void> {
    for (let before = -1; before !== accepted; ) {
      before = accepted;
      for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  app.server.on('connection', (socket: Socket) => {
    accepted++;
    inFlight.set(socket, 0);
    socket.once('close', () => inFlight.delete(socket));
  });
  app.server.on('request', (req, res) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const left = Math.max(0, (inFlight.get(socket) ?? 1) - 1);
      if (inFlight.has(socket)) inFlight.set(socket, left);
      answered.add(socket);
    });
  });

  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });

  app.addHook('preClose', async () => {
    closing = true;
    await acceptWaiting();
    const drained = new Promise<void>((resolve) => {
      // The net close: stops listening and calls back once every connection has ended, reaping nothing.
      NetServer.prototype.close.call(app.server, () => resolve());
    });
    for (const [socket, n] of inFlight) if (n === 0 && answered.has(socket)) socket.end();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeoutMs);
    });
    const outcome = await Promise.race([drained, late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      opts.onCut?.(inFlight.size);
      for (const socket of inFlight.keys()) socket.destroy();
      await drained;
    }
  });
}
