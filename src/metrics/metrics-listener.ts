import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';
import type { Job } from '../module.js';
import type { MetricsExporter } from './exporter.js';

/**
 * `/metrics` on an address of its own (STINT_METRICS_LISTEN), with no credential: for a scraper on a monitoring
 * network that cannot hold an API token. It answers GET (and HEAD) of /metrics and nothing else; the API port
 * keeps serving it behind `metrics:read` as well.
 */
export function metricsListener(
  exporter: MetricsExporter,
  where: { host: string; port: number },
  logger: Logger,
): Job & { address(): string | null } {
  let server: Server | null = null;
  let address: string | null = null;
  return {
    address: () => address,
    async start() {
      const s = createServer((req, res) => {
        const path = (req.url ?? '/').split('?')[0];
        if (path !== '/metrics') {
          res
            .writeHead(404, { 'content-type': 'text/plain' })
            .end('not found: only /metrics is served here\n');
          return;
        }
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('GET /metrics\n');
          return;
        }
        exporter.scrape().then(
          (text) => {
            res.writeHead(200, { 'content-type': exporter.contentType });
            res.end(req.method === 'HEAD' ? undefined : text);
          },
          (err: unknown) => {
            logger.error({ err }, 'metrics scrape failed');
            res.writeHead(500, { 'content-type': 'text/plain' }).end('scrape failed (see the server log)\n');
          },
        );
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(where.port, where.host, () => {
          s.off('error', reject);
          resolve();
        });
      });
      server = s;
      const a = s.address() as AddressInfo;
      address = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
      logger.info({ address }, `metrics also served without a credential on ${address}/metrics`);
    },
    async stop() {
      const s = server;
      server = null;
      address = null;
      if (!s) return;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}
