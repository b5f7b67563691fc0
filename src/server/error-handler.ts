import type { FastifyError, FastifyInstance } from 'fastify';
import { errorBody, isStintError } from '../domain/errors.js';

/**
 * One error shape for every failure: `{ error: { code, message, details } }`. Our own errors carry their code;
 * schema and body-parse failures become 400s; anything else is a 500 with the request id only, never the
 * driver's message (it can leak statements and values).
 */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isStintError(err)) {
      // A refusal that says when to come back says it the HTTP way too (RFC 9110 §10.2.3).
      const details = err.details as { retryAfterSeconds?: unknown } | undefined;
      if (typeof details?.retryAfterSeconds === 'number') {
        reply.header('retry-after', String(Math.max(1, Math.ceil(details.retryAfterSeconds))));
      }
      // A full disk is the operator's to fix: each refusal names what the store said (SQLITE_FULL, 53100 …).
      if (err.code === 'STORE_FULL') request.log.warn({ code: err.code, details: err.details }, err.message);
      // The constructor held the details to the code's shape; a StintError<ErrorCode> cannot prove it again here.
      return reply.status(err.status).send(errorBody(err.code, err.message, err.details as never));
    }
    if (err.validation) {
      return reply.status(400).send(
        errorBody('VALIDATION_FAILED', `invalid ${err.validationContext ?? 'input'}: ${err.message}`, {
          problems: err.validation.map((v) => ({
            path: v.instancePath,
            message: v.message,
            params: v.params,
          })),
        }),
      );
    }
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      // Fastify's own client errors: malformed JSON, wrong content type, body too large …
      return reply.status(err.statusCode).send(errorBody('BAD_REQUEST', err.message));
    }
    request.log.error({ err }, 'unhandled error');
    return reply.status(500).send(errorBody('INTERNAL', 'internal error', { requestId: request.id }));
  });

  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(errorBody('NOT_FOUND', `no route ${request.method} ${request.url}`)),
  );
}
