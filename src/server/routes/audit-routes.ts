import type { FastifyInstance } from 'fastify';
import type { AuditEvents } from '../../audit/audit-events.js';
import { actorOf } from '../authenticate.js';
import { errorResponses, type SchemaTypes } from '../schemas.js';

export function auditRoutes(service: AuditEvents) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const api = app.withTypeProvider<SchemaTypes>();
    api.get(
      '/v1/audit/events',
      {
        schema: {
          operationId: 'listAuditEvents',
          summary: 'Audit events in order; everything for security, auditors and admins, otherwise your own',
          tags: ['audit'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              request: { type: 'string', pattern: '^req_[0-9a-f]{16}$' },
              after: { type: 'integer', minimum: 0 },
              limit: { type: 'integer', minimum: 1, maximum: 1000 },
            },
          },
          response: {
            200: {
              type: 'object',
              properties: { events: { type: 'array', items: { $ref: 'AuditEvent#' } } },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const { request: requestId, after, limit } = request.query;
        const events = await service.list(actorOf(request), {
          ...(requestId ? { requestId } : {}),
          ...(after !== undefined ? { afterSeq: after } : {}),
          ...(limit ? { limit } : {}),
        });
        return { events };
      },
    );
  };
}
