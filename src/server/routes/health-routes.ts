import type { FastifyInstance } from 'fastify';

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
    app.get(
      '/healthz',
      { config: { public: true }, schema: { summary: 'The process is up', tags: ['health'] } },
      async () => ({ status: 'ok' }),
    );
    app.get(
      '/readyz',
      { config: { public: true }, schema: { summary: 'The store answers', tags: ['health'] } },
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
