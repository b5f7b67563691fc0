import type { FastifyInstance } from 'fastify';
import { isStintError, type StintError } from '../../domain/errors.js';
import type { SchemaTypes } from '../../http/schemas.js';
import type { ReadinessReport } from '../../module.js';

/** Every field the probe reports passes through: the schema documents, it does not filter. */
const statusView = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string' } },
  additionalProperties: true,
} as const;

/** An orchestrator's probe gives up after about a second: a check that takes longer is a "not ready". */
const READY_BOUND_MS = 900;

function bounded<T>(check: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('readiness check timed out')), READY_BOUND_MS);
  });
  return Promise.race([check, late]).finally(() => clearTimeout(timer));
}

/**
 * Why the server is not ready, as far as an unauthenticated prober may know it: the code (STORE_FULL,
 * STORE_UNAVAILABLE, AUDIT_UNAVAILABLE) and, for a full disk, what the store said. Never a message.
 */
function notReady(e: unknown): { status: string } & Record<string, unknown> {
  if (!isStintError(e)) return { status: 'not ready' };
  const cause = e.code === 'STORE_FULL' ? (e as StintError<'STORE_FULL'>).details?.cause : undefined;
  return { status: 'not ready', code: e.code, ...(cause ? { cause } : {}) };
}

export function healthRoutes(ready: () => Promise<ReadinessReport>) {
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
          summary: 'The server can serve (degraded: it serves, and something needs a person)',
          tags: ['health'],
          security: [],
          response: { 200: statusView, 400: { $ref: 'Error#' }, 503: statusView },
        },
      },
      async (_request, reply) => {
        try {
          // Degraded still answers 200: the server serves; what is degraded is for monitoring and a person.
          return await bounded(ready());
        } catch (e) {
          return reply.status(503).send(notReady(e));
        }
      },
    );
  };
}
