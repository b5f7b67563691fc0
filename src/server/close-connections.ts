import type { FastifyInstance } from 'fastify';

/**
 * Closing waits for every open connection, and Node's server only drops connections that are idle when close
 * starts: a keep-alive connection whose request is in flight then stays open after its answer until the
 * keep-alive timeout (72 s in Fastify), and shutdown (SIGTERM, a deploy, a test's teardown) hangs that long.
 * Answers sent once closing has begun say `Connection: close`, so each such connection ends with its answer.
 */
export function closeConnectionsOnShutdown(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });
}
