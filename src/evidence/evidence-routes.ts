import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { AuditService } from '../audit/audit-service.js';
import { authorize } from '../auth/authorize.js';
import { actorOf } from '../http/request-context.js';
import { errorResponses, type SchemaTypes } from '../http/schemas.js';
import type { ModuleRoutes } from '../module.js';
import type { PolicySource } from '../policy/policy-source.js';
import { periodOf } from '../report/period.js';
import type { StintDatabase } from '../store/database.js';
import { purgeCoveredSize } from './evidence-range.js';

export interface EvidenceRouteDeps {
  policy: PolicySource;
  store: StintDatabase;
  /** The audit service's range: seqs [start, end) of the events stamped in [since, until). */
  auditRange: AuditService['range'];
}

/**
 * What an evidence pack asks of the server beyond the audit trail: the text of the policy in force (its version
 * is a hash of that text, so a pack can show the text is the version requests recorded). The policy holds
 * references to secrets (env names, files), never their values.
 */
export function evidenceRoutes(deps: EvidenceRouteDeps) {
  const { policy } = deps;
  return async function plugin(app: FastifyInstance): Promise<void> {
    const api = app.withTypeProvider<SchemaTypes>();
    api.get(
      '/v1/evidence/range',
      {
        schema: {
          operationId: 'getEvidenceRange',
          summary:
            "The seqs of a period's events and how far an export of them must run: one event either side, and on " +
            'to the purge events that blanked any of them',
          tags: ['operations'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              period: { type: 'string', maxLength: 16 },
              since: { type: 'string', maxLength: 40 },
              until: { type: 'string', maxLength: 40 },
            },
          },
          response: {
            200: {
              type: 'object',
              required: ['start', 'end', 'exportStart', 'exportEnd'],
              properties: {
                start: { type: 'integer' },
                end: { type: 'integer' },
                exportStart: { type: 'integer' },
                exportEnd: { type: 'integer' },
              },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        authorize(actor, 'audit.read-all');
        const period = periodOf(request.query);
        const { start, end } = await deps.auditRange(actor, period.since, period.until);
        const built = Number(
          (
            await deps.store.db
              .selectFrom('audit_tree')
              .select('built')
              .where('id', '=', 1)
              .executeTakeFirst()
          )?.built ?? 0,
        );
        // The event after the period, when the tree has it: it shows the period's last event is its last.
        const after = end < built ? end + 1 : end;
        const exportStart = Math.max(0, start - 1);
        const exportEnd = Math.min(
          built,
          Math.max(after, await purgeCoveredSize(deps.store.db, exportStart, after)),
        );
        return { start, end, exportStart, exportEnd: Math.max(exportEnd, after) };
      },
    );
    api.get(
      '/v1/evidence/policy',
      {
        schema: {
          operationId: 'getPolicyInForce',
          summary:
            'The policy in force: its version and text, for an evidence pack (security, auditors, admins)',
          tags: ['operations'],
          response: {
            200: {
              type: 'object',
              required: ['version', 'sha256', 'source'],
              properties: {
                version: { type: 'string' },
                sha256: { type: 'string' },
                source: { type: 'string' },
              },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => {
        authorize(actorOf(request), 'audit.read-all');
        const current = policy.current();
        return {
          version: current.version,
          sha256: createHash('sha256').update(current.source, 'utf8').digest('hex'),
          source: current.source,
        };
      },
    );
  };
}

export const EVIDENCE_ROUTE_ACCESS: ModuleRoutes['access'] = {
  'GET /v1/evidence/policy': 'audit:read',
  'GET /v1/evidence/range': 'audit:read',
};
