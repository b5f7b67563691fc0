import type { FastifyInstance } from 'fastify';
import type { SchemaTypes } from '../schemas.js';

/** Every field the probe reports passes through: the schema documents, it does not filter. */
const statusView = {
  type: 'object',
  properties: { status: { type: 'string' } },
  additionalProperties: true,
} as const;

/** An orchestrator's probe gives up after about a second: a check that takes longer is a "not ready". */
const READY_BOUND_MS = 900;

function bounded(check: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('readiness check timed out')), READY_BOUND_MS);
  });
  return Promise.race([check, late]).finally(() => clearTimeout(timer));
}

export function healthRoutes(ready: () => Promise<void>) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const api = app.withTypeProvider<SchemaTypes>();
    api.get(
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
    api.get(
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
          await bounded(ready());
          return { status: 'ready' };
        } catch {
          return reply.status(503).send({ status: 'not ready' });
        }
      },
    );
  };
}
