import type { FastifyError, FastifyInstance } from 'fastify';
import { isStintError } from '../domain/errors.js';

/**
 * One error shape for every failure: `{ error: { code, message, details } }`. Our own errors carry their code;
 * schema and body-parse failures become 400s; anything else is a 500 with the request id only, never the
 * driver's message (it can leak statements and values).
 */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isStintError(err)) {
      // A full disk is the operator's to fix: each refusal names what the store said (SQLITE_FULL, 53100 …).
      if (err.code === 'STORE_FULL') request.log.warn({ code: err.code, details: err.details }, err.message);
      return reply.status(err.status).send({
        error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) },
      });
    }
    if (err.validation) {
      return reply.status(400).send({
        error: {
          code: 'VALIDATION_FAILED',
          message: `invalid ${err.validationContext ?? 'input'}: ${err.message}`,
          details: {
            problems: err.validation.map((v) => ({
              path: v.instancePath,
              message: v.message,
              params: v.params,
            })),
          },
        },
      });
    }
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      // Fastify's own client errors: malformed JSON, wrong content type, body too large …
      return reply.status(err.statusCode).send({ error: { code: 'BAD_REQUEST', message: err.message } });
    }
    request.log.error({ err }, 'unhandled error');
    return reply.status(500).send({
      error: { code: 'INTERNAL', message: 'internal error', details: { requestId: request.id } },
    });
  });

  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` } }),
  );
}
