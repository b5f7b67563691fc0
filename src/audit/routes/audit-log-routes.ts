import type { FastifyInstance } from 'fastify';
import { StintError } from '../../domain/errors.js';
import { actorOf } from '../../http/request-context.js';
import { errorResponses, type SchemaTypes } from '../../http/schemas.js';
import type { ModuleRoutes } from '../../module.js';
import type { AuditService } from '../audit-service.js';

const size = { type: 'integer', minimum: 0 } as const;
const noteSchema = {
  type: 'object',
  required: ['size', 'note', 'createdAt'],
  properties: { size: { type: 'integer' }, note: { type: 'string' }, createdAt: { type: 'string' } },
} as const;
/**
 * Whole-trail verifications per caller and minute: a monitor needs one now and then; more only takes the
 * server's time from everyone else (one runs at a time per server, audit-service.ts).
 */
export const VERIFY_RATE = { max: 6, timeWindow: 60_000 } as const;
/** A listed checkpoint also names the witnesses that refused it (409/422): verifiers fail on those at once. */
const listedNoteSchema = {
  type: 'object',
  required: ['size', 'note', 'createdAt'],
  properties: {
    ...noteSchema.properties,
    refusals: {
      type: 'array',
      items: {
        type: 'object',
        required: ['witness', 'status'],
        properties: {
          witness: { type: 'string' },
          status: { type: 'integer' },
          witnessSize: { type: 'integer' },
        },
      },
    },
  },
} as const;
const base64List = { type: 'array', items: { type: 'string' } } as const;
/** Public routes fail only on bad input: a body, a malformed query. */
const publicErrors = { 400: { $ref: 'Error#' }, 500: { $ref: 'Error#' } } as const;
/** A C2SP signed note, sent as text: documented, and left out of JSON serialisation (a string stays itself). */
const signedNoteText = {
  description: 'The signed note (text/plain)',
  content: { 'text/plain': { schema: { type: 'string' } } },
} as const;

/**
 * The audit log's read side: signed checkpoints (C2SP tlog-checkpoint), the leaves themselves, inclusion and
 * consistency proofs (RFC 9162), and verification. Checkpoints, keys and consistency proofs are public: they
 * carry only hashes, and witnesses and monitors need them without an account.
 */
export function auditLogRoutes(audit: AuditService) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const api = app.withTypeProvider<SchemaTypes>();
    api.get(
      '/audit/checkpoint',
      {
        config: { public: true },
        schema: {
          operationId: 'getLatestCheckpoint',
          summary: 'The latest signed checkpoint (text/plain C2SP signed note)',
          tags: ['audit'],
          security: [],
          response: { 200: signedNoteText, ...publicErrors },
        },
      },
      async (_request, reply) => reply.type('text/plain; charset=utf-8').send(await audit.latestNote()),
    );

    api.get(
      '/v1/audit/key',
      {
        config: { public: true },
        schema: {
          operationId: 'getAuditKey',
          summary: 'The log origin and its verifier keys (C2SP vkeys)',
          tags: ['audit'],
          security: [],
          response: {
            200: {
              type: 'object',
              required: ['origin', 'keys'],
              properties: {
                origin: { type: 'string' },
                keys: {
                  type: 'array',
                  items: { type: 'object', required: ['vkey'], properties: { vkey: { type: 'string' } } },
                },
              },
            },
            ...publicErrors,
          },
        },
      },
      async () => audit.key(),
    );

    api.get(
      '/v1/audit/checkpoints',
      {
        config: { public: true },
        schema: {
          operationId: 'listCheckpoints',
          summary: 'Signed checkpoints, newest first',
          tags: ['audit'],
          security: [],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { limit: { type: 'integer', minimum: 1, maximum: 10_000 } },
          },
          response: {
            200: {
              type: 'object',
              required: ['checkpoints'],
              properties: { checkpoints: { type: 'array', items: listedNoteSchema } },
            },
            ...publicErrors,
          },
        },
      },
      async (request) => ({ checkpoints: await audit.checkpoints(request.query.limit ?? 100) }),
    );

    api.post(
      '/v1/audit/checkpoints',
      {
        schema: {
          operationId: 'createCheckpoint',
          summary:
            'A signed checkpoint at a past size: the stored one; else signed on demand for security and admins, ' +
            'or the first signed checkpoint covering it for everyone else (exports end where their range ends)',
          tags: ['audit'],
          body: { type: 'object', required: ['size'], additionalProperties: false, properties: { size } },
          response: { 200: noteSchema, ...errorResponses },
        },
      },
      async (request) => audit.checkpointAt(actorOf(request), request.body.size),
    );

    api.get(
      '/v1/audit/leaves',
      {
        schema: {
          operationId: 'listAuditLeaves',
          summary: 'Leaves in order: the canonical event (null once purged) and its leaf hash',
          tags: ['audit'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { start: size, limit: { type: 'integer', minimum: 1, maximum: 10_000 } },
          },
          response: {
            200: {
              type: 'object',
              required: ['leaves', 'macFrom'],
              properties: {
                leaves: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['seq', 'body', 'leafHash', 'mac'],
                    properties: {
                      seq: { type: 'integer' },
                      body: { type: ['string', 'null'] },
                      leafHash: { type: 'string' },
                      mac: { type: ['string', 'null'] },
                    },
                  },
                },
                macFrom: { type: 'integer' },
              },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => ({
        leaves: await audit.leaves(actorOf(request), request.query.start ?? 0, request.query.limit ?? 1000),
        macFrom: await audit.macFrom(),
      }),
    );

    api.get(
      '/v1/audit/range',
      {
        schema: {
          operationId: 'getAuditRange',
          summary: 'The seq range [start, end) of events whose time is in [since, until)',
          tags: ['audit'],
          querystring: {
            type: 'object',
            required: ['since', 'until'],
            additionalProperties: false,
            properties: { since: { type: 'string' }, until: { type: 'string' } },
          },
          response: {
            200: {
              type: 'object',
              required: ['start', 'end'],
              properties: { start: { type: 'integer' }, end: { type: 'integer' } },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const since = new Date(request.query.since);
        const until = new Date(request.query.until);
        if (Number.isNaN(since.getTime()) || Number.isNaN(until.getTime()) || since > until) {
          throw new StintError('BAD_REQUEST', 'since and until must be dates with since ≤ until');
        }
        return audit.range(actorOf(request), since, until);
      },
    );

    api.get(
      '/v1/audit/frontier',
      {
        schema: {
          operationId: 'getAuditFrontier',
          summary:
            'Hashes of the complete subtrees making up the first `size` leaves (where an export resumes)',
          tags: ['audit'],
          querystring: {
            type: 'object',
            required: ['size'],
            additionalProperties: false,
            properties: { size },
          },
          response: {
            200: {
              type: 'object',
              required: ['size', 'root', 'hashes'],
              properties: { size: { type: 'integer' }, root: { type: 'string' }, hashes: base64List },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => audit.frontier(actorOf(request), request.query.size),
    );

    api.get(
      '/v1/audit/proof/inclusion',
      {
        schema: {
          operationId: 'getInclusionProof',
          summary: 'Inclusion proof of one event in a signed checkpoint',
          tags: ['audit'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { event: { type: 'string', maxLength: 64 }, seq: size, size },
          },
          response: {
            200: {
              type: 'object',
              required: ['seq', 'size', 'leafHash', 'body', 'proof', 'checkpoint'],
              properties: {
                seq: { type: 'integer' },
                size: { type: 'integer' },
                leafHash: { type: 'string' },
                body: { type: ['string', 'null'] },
                proof: base64List,
                checkpoint: { type: ['string', 'null'] },
              },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const { event, seq, size: at } = request.query;
        return audit.inclusion(actorOf(request), {
          ...(event ? { eventId: event } : {}),
          ...(seq !== undefined ? { seq } : {}),
          ...(at !== undefined ? { size: at } : {}),
        });
      },
    );

    api.get(
      '/v1/audit/proof/consistency',
      {
        config: { public: true },
        schema: {
          operationId: 'getConsistencyProof',
          summary: 'Consistency proof between two tree sizes',
          tags: ['audit'],
          security: [],
          querystring: {
            type: 'object',
            required: ['old', 'new'],
            additionalProperties: false,
            properties: { old: size, new: size },
          },
          response: {
            200: {
              type: 'object',
              required: ['old', 'new', 'proof', 'oldCheckpoint', 'newCheckpoint'],
              properties: {
                old: { type: 'integer' },
                new: { type: 'integer' },
                proof: base64List,
                oldCheckpoint: { type: ['string', 'null'] },
                newCheckpoint: { type: ['string', 'null'] },
              },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => audit.consistency(request.query.old, request.query.new),
    );

    api.post(
      '/v1/audit/verify',
      {
        config: {
          rateLimit: {
            ...VERIFY_RATE,
            // After authentication, so the key is the caller, not the address it calls from.
            hook: 'preHandler',
            keyGenerator: (request) => `audit-verify:${actorOf(request).userId}`,
          },
        },
        schema: {
          operationId: 'verifyAuditTrail',
          summary: 'The server recomputes its whole trail against every stored and WORM-copied checkpoint',
          tags: ['audit'],
          response: {
            200: {
              type: 'object',
              required: ['ok', 'eventsRead'],
              properties: {
                ok: { type: 'boolean' },
                size: { type: 'integer' },
                eventsRead: { type: 'integer' },
                unanchored: { type: 'integer' },
                problem: {
                  type: 'object',
                  required: ['code', 'message'],
                  properties: {
                    code: { type: 'string' },
                    message: { type: 'string' },
                    index: { type: 'integer' },
                    checkpointSize: { type: 'integer' },
                  },
                },
              },
            },
            ...errorResponses,
            // AUDIT_VERIFY_RUNNING (one at a time per server) and RATE_LIMITED (per caller), with Retry-After.
            429: { $ref: 'Error#' },
          },
        },
      },
      async (request) => audit.verify(actorOf(request)),
    );
  };
}

/** Who may call the audit log's routes (the route-access table's rows for them). */
export const AUDIT_LOG_ROUTE_ACCESS: ModuleRoutes['access'] = {
  // Hashes only, for witnesses and monitors.
  'GET /audit/checkpoint': 'public',
  'GET /v1/audit/key': 'public',
  'GET /v1/audit/checkpoints': 'public',
  'GET /v1/audit/proof/consistency': 'public',
  // Read-only for auditors and scoped tokens (a checkpoint already signed); signing one needs security or an
  // admin with a full-power credential (audit-service.ts).
  'POST /v1/audit/checkpoints': 'audit:read',
  'GET /v1/audit/leaves': 'audit:read',
  'GET /v1/audit/range': 'audit:read',
  'GET /v1/audit/frontier': 'audit:read',
  'GET /v1/audit/proof/inclusion': 'audit:read',
  // One at a time per server and 6 a minute per caller (below).
  'POST /v1/audit/verify': 'audit:read',
};
