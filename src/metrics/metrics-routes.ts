import type { FastifyInstance } from 'fastify';
import { authorize } from '../auth/authorize.js';
import { actorOf } from '../http/request-context.js';
import type { SchemaTypes } from '../http/schemas.js';
import type { ModuleRoutes } from '../module.js';
import type { MetricsExporter } from './exporter.js';

/**
 * `GET /metrics` on the API port: Prometheus text for a scraper holding a token with `metrics:read` of someone
 * from security, audit or the admins. Authentication and the scope gate run before the handler (onRequest), and
 * the role check before collecting: a refused scrape costs a token lookup and nothing else.
 */
export function metricsRoutes(exporter: MetricsExporter) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const api = app.withTypeProvider<SchemaTypes>();
    api.get(
      '/metrics',
      {
        schema: {
          operationId: 'getMetrics',
          summary: 'Operations metrics in the Prometheus text format (every module’s families)',
          tags: ['operations'],
          response: {
            200: {
              description: 'Prometheus text exposition format 0.0.4',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
            401: { $ref: 'Error#' },
            403: { $ref: 'Error#' },
            500: { $ref: 'Error#' },
          },
        },
      },
      async (request, reply) => {
        authorize(actorOf(request), 'metrics.read');
        const text = await exporter.scrape();
        return reply.type(exporter.contentType).send(text);
      },
    );
  };
}

/** Who may scrape (the route-access table's row): a token carrying `metrics:read`, or a person. */
export const METRICS_ROUTE_ACCESS: ModuleRoutes['access'] = {
  'GET /metrics': 'metrics:read',
};
