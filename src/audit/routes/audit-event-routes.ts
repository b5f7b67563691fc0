import type { FastifyInstance } from 'fastify';
import { actorOf } from '../../http/request-context.js';
import { errorResponses, type SchemaTypes } from '../../http/schemas.js';
import type { ModuleRoutes } from '../../module.js';
import type { AuditEvents } from '../audit-events.js';

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
              required: ['events'],
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

/** Who may read request histories (the route-access table's row). */
export const AUDIT_EVENT_ROUTE_ACCESS: ModuleRoutes['access'] = {
  'GET /v1/audit/events': 'audit:read',
};
