import type { FastifyInstance } from 'fastify';

/** Every field the probe reports passes through: the schema documents, it does not filter. */
const statusView = {
  type: 'object',
  properties: { status: { type: 'string' } },
  additionalProperties: true,
} as const;

export function healthRoutes(ready: () => Promise<void>) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get(
      '/healthz',
      {
        config: { public: true },
        schema: {
          operationId: 'getHealth',
          summary: 'The process is up',
          tags: ['health'],
          security: [],
          response: { 200: statusView, 400: { $ref: 'Error#' } },
        },
      },
      async () => ({ status: 'ok' }),
    );
    app.get(
      '/readyz',
      {
        config: { public: true },
        schema: {
          operationId: 'getReadiness',
          summary: 'The store answers',
          tags: ['health'],
          security: [],
          response: { 200: statusView, 400: { $ref: 'Error#' }, 503: statusView },
        },
      },
      async (_request, reply) => {
        try {
          await ready();
          return { status: 'ready' };
        } catch {
          return reply.status(503).send({ status: 'not ready' });
        }
      },
    );
  };
}
