import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Summary, summarize } from './stats.js';

export interface LoopbackReply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: API answers are read field by field, as the tests do
  body: any;
}

export interface LoopbackClient {
  call(
    method: 'GET' | 'POST',
    path: string,
    headers: Record<string, string>,
    body?: unknown,
  ): Promise<LoopbackReply>;
  close(): void;
}

/**
 * Real HTTP on 127.0.0.1 with kept-alive connections, one per request in flight: how the figures that say
 * "through real HTTP" reach both Stint and the bare handler it is compared with, so the client costs both alike.
 */
export function createLoopbackClient(baseUrl: string, connections: number): LoopbackClient {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  return {
    call(method, path, headers, body) {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      return new Promise((resolve, reject) => {
        const req = request(
          new URL(path, baseUrl),
          {
            method,
            agent,
            headers: payload === undefined ? headers : { ...headers, 'content-type': 'application/json' },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('error', reject);
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null });
            });
          },
        );
        req.on('error', reject);
        req.end(payload);
      });
    },
    close: () => agent.destroy(),
  };
}

export interface LoopbackFigures {
  /** µs: a bare node:http server answering `{}` to a GET, through createLoopbackClient, one call at a time. */
  roundTripUs: Summary;
  roundTripsPerSecond: number;
}

/** The floor under every HTTP figure: what one round trip on loopback costs with nothing behind it. */
export async function measureLoopback(samples: number): Promise<LoopbackFigures> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = createLoopbackClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 1);
  const times: number[] = [];
  try {
    for (let i = 0; i < samples + 200; i++) {
      const t0 = performance.now();
      await client.call('GET', '/', {});
      if (i >= 200) times.push(performance.now() - t0);
    }
  } finally {
    client.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  const total = times.reduce((a, b) => a + b, 0);
  return {
    roundTripUs: summarize(times.map((ms) => ms * 1000)),
    roundTripsPerSecond: Math.round((samples / total) * 1000),
  };
}
