import type { FastifyInstance } from 'fastify';
import { actorOf } from '../../http/request-context.js';
import { errorResponses, type SchemaTypes } from '../../http/schemas.js';
import type { ModuleRoutes } from '../../module.js';
import type { ReviewClaims } from './review-claims.js';
import type { SessionReviewService } from './review-service.js';
import { VERDICTS } from './review-views.js';

const nullableString = { type: ['string', 'null'] } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;

const sessionSchema = {
  type: 'object',
  required: [
    'id',
    'requestId',
    'requester',
    'resource',
    'role',
    'sensitivity',
    'protocol',
    'account',
    'client',
    'server',
    'startedAt',
    'endedAt',
    'endReason',
  ],
  properties: {
    id: { type: 'string' },
    requestId: { type: 'string' },
    requester: { type: 'string' },
    resource: { type: 'string' },
    role: { type: 'string' },
    sensitivity: { type: 'string' },
    protocol: { type: 'string' },
    account: { type: 'string' },
    client: nullableString,
    server: { type: 'string' },
    startedAt: dateTime,
    endedAt: nullableDateTime,
    endReason: nullableString,
  },
} as const;

const reviewSchema = {
  type: 'object',
  required: [
    'sessionId',
    'requestId',
    'requester',
    'resource',
    'reasons',
    'draw',
    'rate',
    'state',
    'createdAt',
    'dueAt',
    'verdict',
    'notes',
    'reviewer',
    'completedAt',
    'claimedBy',
    'claimedAt',
    'overdue',
  ],
  properties: {
    sessionId: { type: 'string' },
    requestId: { type: 'string' },
    requester: { type: 'string' },
    resource: { type: 'string' },
    reasons: { type: 'array', items: { type: 'string' } },
    draw: { type: 'number' },
    rate: { type: 'number' },
    state: { type: 'string', enum: ['queued', 'completed'] },
    createdAt: dateTime,
    dueAt: dateTime,
    verdict: { type: ['string', 'null'], enum: [...VERDICTS, null] },
    notes: nullableString,
    reviewer: nullableString,
    completedAt: nullableDateTime,
    claimedBy: nullableString,
    claimedAt: nullableDateTime,
    overdue: { type: 'boolean' },
  },
} as const;

const recordingSchema = {
  type: 'object',
  required: ['id', 'channel', 'type', 'command', 'storage', 'state', 'startedAt', 'endedAt', 'segments'],
  properties: {
    id: { type: 'string' },
    channel: { type: 'integer' },
    type: { type: 'string' },
    command: nullableString,
    storage: { type: 'string' },
    state: { type: 'string' },
    startedAt: dateTime,
    endedAt: nullableDateTime,
    segments: {
      type: 'array',
      items: {
        type: 'object',
        required: ['index', 'state', 'sha256', 'bytes', 'recovered'],
        properties: {
          index: { type: 'integer' },
          state: { type: 'string' },
          sha256: nullableString,
          bytes: { type: ['integer', 'null'] },
          recovered: { type: 'boolean' },
        },
      },
    },
  },
} as const;

const sessionIdParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: '^ses_[A-Za-z0-9_-]{8,64}$' } },
} as const;

const recordingIdParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: '^rec_[A-Za-z0-9_-]{8,64}$' } },
} as const;

/**
 * Recorded sessions and the session review queue. "Review" alone means approving a request in Stint: these
 * routes say session review (and recorded session) throughout, so the two never mix.
 */
export function sessionReviewRoutes(service: SessionReviewService, claims: ReviewClaims) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const api = app.withTypeProvider<SchemaTypes>();

    api.get(
      '/v1/recorded-sessions',
      {
        schema: {
          operationId: 'listRecordedSessions',
          summary: 'Sessions through Stint’s proxies, newest first (security and auditors)',
          tags: ['recordings'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              request: { type: 'string', pattern: '^req_[0-9a-f]{16}$' },
              limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
            },
          },
          response: {
            200: {
              type: 'object',
              required: ['sessions'],
              properties: { sessions: { type: 'array', items: sessionSchema } },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const { request: requestId, limit = 100 } = request.query;
        return {
          sessions: await service.sessions(actorOf(request), { limit, ...(requestId ? { requestId } : {}) }),
        };
      },
    );

    api.get(
      '/v1/recorded-sessions/:id',
      {
        schema: {
          operationId: 'getRecordedSession',
          summary: 'One session: its recordings, their segments and hashes, and its review',
          tags: ['recordings'],
          params: sessionIdParams,
          response: {
            200: {
              type: 'object',
              required: ['session', 'recordings', 'review'],
              properties: {
                session: sessionSchema,
                recordings: { type: 'array', items: recordingSchema },
                review: { anyOf: [reviewSchema, { type: 'null' }] },
              },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => service.session(actorOf(request), request.params.id),
    );

    api.get(
      '/v1/recordings/:id/cast',
      {
        schema: {
          operationId: 'getRecordingCast',
          summary:
            'A recording as asciicast v2 (application/x-asciicast), or a PostgreSQL statement log as JSON lines (application/x-ndjson), its segments checked against the audit trail',
          tags: ['recordings'],
          params: recordingIdParams,
          response: {
            200: {
              type: 'string',
              description:
                'a header line, then one event (asciicast v2) or one statement (pg-query-log) per line',
            },
            ...errorResponses,
          },
        },
      },
      async (request, reply) => {
        const { text, state, type } = await service.cast(actorOf(request), request.params.id);
        return reply
          .type(
            type === 'pg-query-log'
              ? 'application/x-ndjson; charset=utf-8'
              : 'application/x-asciicast; charset=utf-8',
          )
          .header('x-stint-recording-state', state)
          .send(text);
      },
    );

    api.get(
      '/v1/session-reviews',
      {
        schema: {
          operationId: 'listSessionReviews',
          summary: 'The session review queue: sampled, sensitive, incident and break-glass sessions',
          tags: ['recordings'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              state: { type: 'string', enum: ['queued', 'completed', 'all'], default: 'queued' },
              limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
            },
          },
          response: {
            200: {
              type: 'object',
              required: ['reviews'],
              properties: { reviews: { type: 'array', items: reviewSchema } },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const { state = 'queued', limit = 100 } = request.query;
        return { reviews: await service.queue(actorOf(request), { state, limit }) };
      },
    );

    api.post(
      '/v1/session-reviews/:id/verdict',
      {
        schema: {
          operationId: 'completeSessionReview',
          summary:
            'Record the verdict on a queued session (not by its user nor by an approver of its request)',
          tags: ['recordings'],
          params: sessionIdParams,
          body: {
            type: 'object',
            required: ['verdict'],
            additionalProperties: false,
            properties: {
              verdict: { type: 'string', enum: VERDICTS },
              notes: { type: 'string', maxLength: 4000, default: '' },
            },
          },
          response: { 200: reviewSchema, ...errorResponses },
        },
      },
      async (request) => {
        const { verdict, notes = '' } = request.body;
        return service.complete(actorOf(request), request.params.id, { verdict, notes });
      },
    );

    api.post(
      '/v1/session-reviews/:id/claim',
      {
        schema: {
          operationId: 'claimSessionReview',
          summary:
            'Claim a queued session to review it (one claimant at a time; not its user nor an approver of its request)',
          tags: ['recordings'],
          params: sessionIdParams,
          response: { 200: reviewSchema, ...errorResponses },
        },
      },
      async (request) => claims.claim(actorOf(request), request.params.id),
    );

    api.post(
      '/v1/session-reviews/:id/release',
      {
        schema: {
          operationId: 'releaseSessionReview',
          summary: 'Give a claimed session back to the queue (its claimant, or security)',
          tags: ['recordings'],
          params: sessionIdParams,
          response: { 200: reviewSchema, ...errorResponses },
        },
      },
      async (request) => claims.release(actorOf(request), request.params.id),
    );
  };
}

/** Who may call the recording routes: reads for auditors' scoped tokens too; a claim or verdict is a person's. */
export const SESSION_REVIEW_ROUTE_ACCESS: ModuleRoutes['access'] = {
  'GET /v1/recorded-sessions': 'audit:read',
  'GET /v1/recorded-sessions/:id': 'audit:read',
  'GET /v1/recordings/:id/cast': 'audit:read',
  'GET /v1/session-reviews': 'audit:read',
  'POST /v1/session-reviews/:id/verdict': null,
  'POST /v1/session-reviews/:id/claim': null,
  'POST /v1/session-reviews/:id/release': null,
};
