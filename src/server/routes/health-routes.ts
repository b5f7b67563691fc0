import type { FastifyInstance } from 'fastify';

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
          await ready();
          return { status: 'ready' };
        } catch {
          return reply.status(503).send({ status: 'not ready' });
        }
      },
    );
  };
}
