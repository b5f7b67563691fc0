import type { FastifyInstance } from 'fastify';
import { parseDuration } from '../domain/duration.js';
import { REQUEST_STATES, TIERS } from '../domain/request.js';
import { preferHeaders, preferredWaitMs } from '../http/prefer-wait.js';
import { actorOf, recordedAs } from '../http/request-context.js';
import { commentBody, errorResponses, idParams, type SchemaTypes } from '../http/schemas.js';
import type { ModuleRoutes } from '../module.js';
import type { RequestService } from './request-types.js';

const one = { 200: { $ref: 'Request#' }, ...errorResponses } as const;

const TAKE_INPUT =
  'A kind that needs something from the user when the credential is taken (an SSH public key to sign) reads it ' +
  "from the body, checked against the kind's schema: bad input answers `VALIDATION_FAILED` and the credential " +
  'stays takeable. Other kinds take no body (or an empty object).';

const previewSchema = {
  type: 'object',
  required: [
    'ruleId',
    'policyVersion',
    'tiers',
    'waitingFor',
    'durationSeconds',
    'maxDurationSeconds',
    'approverStepUp',
    'reasonChecked',
  ],
  properties: {
    ruleId: { type: 'string' },
    policyVersion: { type: 'string' },
    tiers: { type: 'array', items: { type: 'string', enum: TIERS } },
    waitingFor: {
      type: 'array',
      items: {
        type: 'object',
        required: ['tier', 'label', 'eligible'],
        properties: {
          tier: { type: 'string', enum: TIERS },
          label: { type: 'string' },
          eligible: { type: 'array', items: { type: 'string' } },
        },
      },
    },
    durationSeconds: { type: 'integer' },
    maxDurationSeconds: { type: 'integer' },
    approverStepUp: { type: 'boolean', description: 'approving needs a fresh second factor' },
    reasonChecked: { type: 'boolean', description: 'false when no reason was given' },
  },
} as const;

/** Its fields are the resource's kind's to define; the service checks them against that kind's schema. */
const takeBody = { type: ['object', 'null'], additionalProperties: true } as const;

const ISSUED_AFTER_COMMIT =
  'Answers as soon as the decision is committed. When it completes the approvals (or the role is approved ' +
  'automatically) the request is `approved` and the credential is issued on the target right after, from the ' +
  'committed request: poll GET /v1/requests/{id} until it is `active` (or `failed`), or send `Prefer: wait=N` ' +
  'to be answered once issuance has ended.';

export function requestRoutes(service: RequestService) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const api = app.withTypeProvider<SchemaTypes>();
    api.post(
      '/v1/requests',
      {
        config: { idempotent: true },
        schema: {
          operationId: 'createRequest',
          summary: 'Ask for a role on a resource, for a reason, for a while',
          description: ISSUED_AFTER_COMMIT,
          tags: ['requests'],
          headers: preferHeaders,
          body: {
            type: 'object',
            required: ['resource', 'role', 'reason'],
            additionalProperties: false,
            properties: {
              resource: { type: 'string', minLength: 1, maxLength: 200 },
              role: { type: 'string', minLength: 1, maxLength: 200 },
              reason: { type: 'string', maxLength: 500 },
              duration: { type: 'string', maxLength: 20, description: 'e.g. 90m, 2h; default from policy' },
            },
          },
          response: { 201: { $ref: 'Request#' }, ...errorResponses },
        },
      },
      async (request, reply) => {
        const { duration, ...rest } = request.body;
        const view = await service.create(
          actorOf(request),
          { ...rest, ...(duration === undefined ? {} : { durationSeconds: parseDuration(duration) }) },
          { ...recordedAs(request, 201), waitMs: preferredWaitMs(request.headers.prefer) },
        );
        return reply.status(201).send(view);
      },
    );

    api.get(
      '/v1/requests',
      {
        schema: {
          operationId: 'listRequests',
          summary: 'List requests: mine, waiting for my approval, or all (security, auditors, admins)',
          tags: ['requests'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              scope: { type: 'string', enum: ['mine', 'to-approve', 'all'], default: 'mine' },
              state: { type: 'string', enum: REQUEST_STATES },
              limit: { type: 'integer', minimum: 1, maximum: 500 },
            },
          },
          response: {
            200: {
              type: 'object',
              required: ['requests'],
              properties: { requests: { type: 'array', items: { $ref: 'Request#' } } },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const { scope = 'mine', state, limit } = request.query;
        const requests = await service.list(actorOf(request), {
          scope,
          ...(state ? { state } : {}),
          ...(limit ? { limit } : {}),
        });
        return { requests };
      },
    );

    api.get(
      '/v1/requests/preview',
      {
        schema: {
          operationId: 'previewRequest',
          summary: 'What a request would need if sent now: its rule, the approvals and who may give them',
          description:
            'Decided exactly as `POST /v1/requests` would decide (refusing with the same codes), and nothing is ' +
            'stored. Without `reason` the ticket rule is not checked (`reasonChecked: false`).',
          tags: ['requests'],
          querystring: {
            type: 'object',
            required: ['resource', 'role'],
            additionalProperties: false,
            properties: {
              resource: { type: 'string', minLength: 1, maxLength: 200 },
              role: { type: 'string', minLength: 1, maxLength: 200 },
              reason: { type: 'string', maxLength: 500 },
              duration: { type: 'string', maxLength: 20, description: 'e.g. 90m, 2h; default from policy' },
            },
          },
          response: { 200: previewSchema, ...errorResponses },
        },
      },
      async (request) => {
        const { duration, reason, resource, role } = request.query;
        return service.preview(actorOf(request), {
          resource,
          role,
          ...(reason === undefined || reason.trim() === '' ? {} : { reason }),
          ...(duration === undefined ? {} : { durationSeconds: parseDuration(duration) }),
        });
      },
    );

    api.get(
      '/v1/requests/:id',
      {
        schema: {
          operationId: 'getRequest',
          summary: 'One request',
          tags: ['requests'],
          params: idParams,
          response: one,
        },
      },
      async (request) => service.get(actorOf(request), request.params.id),
    );

    const review = (decision: 'approve' | 'deny') =>
      api.post(
        `/v1/requests/:id/${decision}`,
        {
          config: { idempotent: true },
          schema: {
            operationId: decision === 'approve' ? 'approveRequest' : 'denyRequest',
            summary: decision === 'approve' ? 'Approve a request' : 'Deny a request',
            ...(decision === 'approve' ? { description: ISSUED_AFTER_COMMIT } : {}),
            tags: ['approvals'],
            ...(decision === 'approve' ? { headers: preferHeaders } : {}),
            params: idParams,
            body: commentBody,
            response: one,
          },
        },
        async (request) =>
          service.review(actorOf(request), request.params.id, decision, request.body?.comment ?? '', {
            ...recordedAs(request, 200),
            ...(decision === 'approve' ? { waitMs: preferredWaitMs(request.headers.prefer) } : {}),
          }),
      );
    review('approve');
    review('deny');

    api.post(
      '/v1/requests/:id/withdraw',
      {
        config: { idempotent: true },
        schema: {
          operationId: 'withdrawRequest',
          summary: 'Withdraw my request before it is active',
          tags: ['requests'],
          params: idParams,
          body: commentBody,
          response: one,
        },
      },
      async (request) =>
        service.withdraw(
          actorOf(request),
          request.params.id,
          request.body?.comment ?? '',
          recordedAs(request, 200),
        ),
    );

    api.post(
      '/v1/requests/:id/revoke',
      {
        config: { idempotent: true },
        schema: {
          operationId: 'revokeRequest',
          summary: 'End access now: the credential is removed and live sessions are terminated',
          tags: ['grants'],
          params: idParams,
          body: commentBody,
          response: one,
        },
      },
      async (request) =>
        service.revoke(
          actorOf(request),
          request.params.id,
          request.body?.comment ?? '',
          recordedAs(request, 200),
        ),
    );

    api.post(
      '/v1/requests/:id/credentials',
      {
        config: { idempotent: true },
        schema: {
          operationId: 'takeCredential',
          summary: 'The credential of an active grant, shown once to its requester',
          tags: ['grants'],
          description: TAKE_INPUT,
          params: idParams,
          body: takeBody,
          response: { 200: { $ref: 'Credential#' }, ...errorResponses },
        },
      },
      async (request) =>
        service.takeCredential(actorOf(request), request.params.id, {
          ...recordedAs(request, 200),
          input: request.body,
        }),
    );
  };
}

/** Who may call the request routes (the route-access table's rows for them). */
export const REQUEST_ROUTE_ACCESS: ModuleRoutes['access'] = {
  'POST /v1/requests': 'requests:write',
  'GET /v1/requests': 'requests:read',
  'GET /v1/requests/preview': 'requests:read',
  'GET /v1/requests/:id': 'requests:read',
  'POST /v1/requests/:id/approve': 'approvals:write',
  'POST /v1/requests/:id/deny': 'approvals:write',
  'POST /v1/requests/:id/withdraw': 'requests:write',
  'POST /v1/requests/:id/revoke': 'requests:write',
  'POST /v1/requests/:id/credentials': 'credentials:read',
};
