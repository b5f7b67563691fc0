import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { actorOf } from '../http/request-context.js';
import { parseIdempotencyKey } from '../idempotency/idempotency-key.js';
import type { IdempotencyService, KeyUse } from '../idempotency/idempotency-service.js';

const HEADER_DESCRIPTION =
  'Optional (draft-ietf-httpapi-idempotency-key-header): a unique key, 16-128 characters (a UUID), for ' +
  'retrying this call safely. The same key with the same call answers what the first answered (header ' +
  '`Idempotency-Replayed: true`), also when the change committed but its answer was lost; with another ' +
  'method, path or body 422 `IDEMPOTENCY_KEY_REUSED`; while the first is unanswered 409 ' +
  '`IDEMPOTENCY_KEY_IN_USE`; malformed 400 `IDEMPOTENCY_KEY_INVALID`. Keys are per caller and kept 24 h.';

/**
 * Idempotency-Key on the routes flagged `config.idempotent`. The key is held (in the store) before the route
 * runs; the route records its answer in the transaction of its change (workflow routes), or it is recorded
 * once sent (others); a refusal releases the key, since it changed nothing. Call after authentication (keys
 * are per caller) and before the routes are added (their OpenAPI document gains the header).
 */
export function registerIdempotency(app: FastifyInstance, service: IdempotencyService): void {
  app.decorateRequest('idempotency', null);
  app.addHook('onRoute', (route) => {
    if (route.config?.idempotent !== true) return;
    // In place: the route table and the OpenAPI document hold this same schema object.
    const schema = (route.schema ?? {}) as { headers?: unknown; response?: Record<string, unknown> };
    schema.headers = {
      type: 'object',
      properties: { 'idempotency-key': { type: 'string', description: HEADER_DESCRIPTION } },
    };
    // A new object: response maps are shared between routes, and only these answer IDEMPOTENCY_KEY_REUSED.
    schema.response = { ...schema.response, 422: { $ref: 'Error#' } };
    route.schema = schema as typeof route.schema;
  });

  app.addHook('preHandler', async (request, reply) => {
    const header = request.headers['idempotency-key'];
    if (request.routeOptions.config.idempotent !== true || header === undefined) return;
    const use: KeyUse = {
      caller: actorOf(request).userId,
      key: parseIdempotencyKey(header),
      method: request.method,
      path: (request.url.split('?')[0] ?? '').replace(/\/+$/, ''),
      fingerprint: createHash('sha256')
        .update(JSON.stringify(request.body ?? null))
        .digest('hex'),
    };
    const begun = await service.begin(use);
    if (begun.kind === 'replay') {
      reply.header('idempotency-replayed', 'true');
      return reply.status(begun.answer.status).send(begun.answer.body);
    }
    const held: NonNullable<typeof request.idempotency> = {
      use,
      attempt: begun.attempt,
      recorded: false,
      async record(trx, answer) {
        await service.complete(trx, use, begun.attempt, answer);
        held.recorded = true;
      },
    };
    request.idempotency = held;
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const held = request.idempotency;
    if (!held) return payload;
    request.idempotency = null;
    try {
      if (reply.statusCode >= 200 && reply.statusCode < 300 && typeof payload === 'string') {
        // Also where the change recorded its answer: what was sent is exact (a revoke's view after the target).
        await service.complete(service.db, held.use, held.attempt, {
          status: reply.statusCode,
          body: JSON.parse(payload),
        });
      } else {
        // Only a key still pending goes: one whose change committed (recorded) keeps its answer.
        await service.release(held.use, held.attempt);
      }
    } catch (err) {
      // The answer goes out regardless; a change that recorded in its transaction is replayed from that.
      request.log.warn({ err }, 'recording the idempotency key failed');
    }
    return payload;
  });
}
