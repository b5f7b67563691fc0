import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a target, to take the target "off the network" without stopping it: while down, every
 * open connection is cut and new ones are reset. The proxy keeps its port the whole time, so nothing else can
 * take it (stopping a real server and starting it again races other processes for the port).
 */
export interface TcpProxy {
  port: number;
  down(): void;
  up(): void;
  /**
   * The next answer the target sends is not passed on: its connection is cut instead, as a network that fails
   * after the target did the work (the caller never learns the outcome).
   */
  cutNextAnswer(): void;
  /** Answers cut so far. */
  cuts(): number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let isDown = false;
  let cutNext = false;
  let cuts = 0;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (isDown) {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection({ host: targetHost, port: targetPort });
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (cutNext) {
        cutNext = false;
        cuts++;
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    port: address.port,
    down() {
      isDown = true;
      for (const s of open) s.destroy();
      open.clear();
    },
    up() {
      isDown = false;
    },
    cutNextAnswer() {
      cutNext = true;
    },
    cuts: () => cuts,
    close: () =>
      new Promise((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
