import type { FastifyInstance } from 'fastify';
import { authorize } from '../auth/authorize.js';
import { actorOf } from '../http/request-context.js';
import { errorResponses, type SchemaTypes } from '../http/schemas.js';
import type { ModuleRoutes } from '../module.js';
import { periodOf } from './period.js';
import type { ReportService } from './report-types.js';

const counts = { type: 'object', additionalProperties: { type: 'integer' } } as const;
const approvalTimes = {
  type: 'object',
  required: ['count', 'p50Seconds', 'p90Seconds'],
  properties: {
    count: { type: 'integer' },
    p50Seconds: { type: ['number', 'null'] },
    p90Seconds: { type: ['number', 'null'] },
  },
} as const;
const timesBy = { type: 'object', additionalProperties: approvalTimes } as const;

const reportSchema = {
  type: 'object',
  required: [
    'period',
    'generatedAt',
    'requests',
    'approvalTime',
    'denials',
    'timeOuts',
    'breakglass',
    'postmortems',
    'reasons',
    'purged',
    'warnings',
  ],
  properties: {
    period: {
      type: 'object',
      required: ['label', 'since', 'until'],
      properties: { label: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' } },
    },
    generatedAt: { type: 'string' },
    requests: {
      type: 'object',
      properties: {
        total: { type: 'integer' },
        byResource: counts,
        byTier: counts,
        approved: { type: 'integer' },
        autoApproved: { type: 'integer' },
        autoApprovedShare: { type: ['number', 'null'] },
        denied: { type: 'integer' },
        timedOut: { type: 'integer' },
        withdrawn: { type: 'integer' },
        failed: { type: 'integer' },
        pending: { type: 'integer' },
      },
    },
    approvalTime: {
      type: 'object',
      properties: { overall: approvalTimes, byTier: timesBy, byResource: timesBy, byApprover: timesBy },
    },
    denials: { type: 'object', properties: { byResource: counts, byApprover: counts } },
    timeOuts: { type: 'object', properties: { byResource: counts } },
    breakglass: { type: 'object', properties: { uses: { type: 'integer' }, byResource: counts } },
    postmortems: {
      type: 'object',
      properties: {
        openedInPeriod: { type: 'integer' },
        closedInPeriod: { type: 'integer' },
        openAtEnd: { type: 'integer' },
        overdueAtEnd: { type: 'integer' },
        overdue: { type: 'array', items: { type: 'string' } },
      },
    },
    reasons: {
      type: 'object',
      properties: {
        missing: { type: 'integer' },
        repeated: {
          type: 'array',
          items: {
            type: 'object',
            properties: { text: { type: 'string' }, count: { type: 'integer' } },
          },
        },
        approvalsWithoutComment: { type: 'integer' },
        repeatedComments: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              approver: { type: 'string' },
              text: { type: 'string' },
              count: { type: 'integer' },
            },
          },
        },
      },
    },
    purged: {
      type: ['object', 'null'],
      properties: {
        events: { type: 'integer' },
        firstSeq: { type: ['integer', 'null'] },
        lastSeq: { type: ['integer', 'null'] },
        postmortemEvents: { type: 'integer' },
      },
    },
    warnings: {
      type: 'array',
      items: {
        type: 'object',
        required: ['code', 'message'],
        properties: { code: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
} as const;

export function reportRoutes(service: ReportService) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const api = app.withTypeProvider<SchemaTypes>();
    api.get(
      '/v1/report',
      {
        schema: {
          operationId: 'getAccessReport',
          summary:
            'The access report of a period: approval times by tier, resource and approver, volumes, denials, ' +
            'time-outs, break-glass uses, postmortems and warnings',
          tags: ['operations'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              period: { type: 'string', maxLength: 16, description: '2026-Q3, 2026-07 or 2026 (UTC)' },
              since: {
                type: 'string',
                maxLength: 40,
                description: 'YYYY-MM-DD or an ISO time with its zone',
              },
              until: {
                type: 'string',
                maxLength: 40,
                description: 'YYYY-MM-DD (inclusive) or an ISO time (exclusive)',
              },
            },
          },
          response: { 200: reportSchema, ...errorResponses },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        // Who may read it before what was asked: a caller without the role learns nothing from their input.
        authorize(actor, 'report.read');
        return service.report(actor, periodOf(request.query));
      },
    );
  };
}

/** Read-only, for security, auditors and admins (authorize.ts); scoped tokens need audit:read. */
export const REPORT_ROUTE_ACCESS: ModuleRoutes['access'] = {
  'GET /v1/report': 'audit:read',
};
