import type { FastifyInstance } from 'fastify';
import { parseDuration } from '../domain/duration.js';
import { actorOf } from '../http/request-context.js';
import { errorResponses, type SchemaTypes } from '../http/schemas.js';
import type { ModuleRoutes } from '../module.js';
import { CLASSIFICATIONS, DRILL_STEPS } from './breakglass-types.js';
import type { Drills } from './drills.js';
import type { Invoker } from './invoke.js';
import type { Postmortems } from './postmortems.js';
import type { Seals } from './seals.js';
import type { Unseal } from './unseal.js';

const errors = { ...errorResponses, 422: { $ref: 'Error#' }, 503: { $ref: 'Error#' } } as const;
const tags = ['breakglass'];
const str = { type: 'string' } as const;
const strings = { type: 'array', items: str } as const;
const date = { type: 'string', format: 'date-time' } as const;
const nullableDate = { type: ['string', 'null'], format: 'date-time' } as const;
const nullableStr = { type: ['string', 'null'] } as const;

const invocationView = {
  type: 'object',
  required: [
    'requestId',
    'resource',
    'role',
    'holder',
    'entry',
    'invokedAt',
    'invokedSeq',
    'channels',
    'escalateAfterSeconds',
    'escalationLevel',
    'acknowledgedAt',
    'drillId',
    'request',
  ],
  properties: {
    requestId: str,
    resource: str,
    role: str,
    holder: str,
    entry: str,
    invokedAt: date,
    invokedSeq: {
      type: 'integer',
      description: 'seq of the breakglass.invoked event (what an acknowledgement names)',
    },
    channels: strings,
    escalateAfterSeconds: { type: 'integer' },
    escalationLevel: { type: 'integer' },
    acknowledgedAt: nullableDate,
    drillId: nullableStr,
    request: { $ref: 'Request#' },
  },
} as const;

const sealView = {
  type: 'object',
  required: [
    'id',
    'scope',
    'label',
    'threshold',
    'officers',
    'state',
    'uses',
    'rotationReason',
    'createdBy',
    'createdAt',
  ],
  properties: {
    id: str,
    scope: str,
    label: str,
    threshold: { type: 'integer' },
    officers: strings,
    state: { type: 'string', enum: ['active', 'rotation_required', 'retired'] },
    uses: { type: 'integer' },
    rotationReason: nullableStr,
    createdBy: str,
    createdAt: date,
  },
} as const;

const unsealView = {
  type: 'object',
  required: [
    'id',
    'sealId',
    'scope',
    'label',
    'purpose',
    'openedBy',
    'reason',
    'state',
    'threshold',
    'officers',
    'given',
    'remaining',
    'badShares',
    'openedAt',
    'expiresAt',
    'endedAt',
    'secretReady',
  ],
  properties: {
    id: { type: 'string', description: 'the attempt: the nonce shares are given against' },
    sealId: str,
    scope: str,
    label: str,
    purpose: { type: 'string', enum: ['use', 'drill'] },
    openedBy: str,
    reason: str,
    state: { type: 'string', enum: ['open', 'done', 'failed', 'expired'] },
    threshold: { type: 'integer' },
    officers: strings,
    given: strings,
    remaining: { type: 'integer' },
    badShares: { type: 'integer' },
    openedAt: date,
    expiresAt: date,
    endedAt: nullableDate,
    secretReady: { type: 'boolean' },
  },
} as const;

const timelineEntry = {
  type: 'object',
  required: ['seq', 'at', 'actor', 'action'],
  properties: { seq: { type: 'integer' }, at: str, actor: str, action: str },
} as const;

const postmortemView = {
  type: 'object',
  required: [
    'id',
    'subject',
    'requestId',
    'sealId',
    'resource',
    'owner',
    'due',
    'state',
    'overdue',
    'classification',
    'rootCause',
    'followUps',
    'timeline',
    'openedAt',
    'closedAt',
    'closedBy',
  ],
  properties: {
    id: str,
    subject: { type: 'string', enum: ['grant', 'unseal', 'offline'] },
    requestId: nullableStr,
    sealId: nullableStr,
    resource: nullableStr,
    owner: str,
    due: date,
    state: { type: 'string', enum: ['open', 'closed'] },
    overdue: { type: 'boolean' },
    classification: { type: ['string', 'null'], enum: [...CLASSIFICATIONS, null] },
    rootCause: nullableStr,
    followUps: strings,
    timeline: { type: 'array', items: timelineEntry },
    openedAt: date,
    closedAt: nullableDate,
    closedBy: nullableStr,
  },
} as const;

const drillView = {
  type: 'object',
  required: ['id', 'resource', 'role', 'startedBy', 'startedAt', 'finishedAt', 'state', 'steps', 'requestId'],
  properties: {
    id: str,
    resource: str,
    role: str,
    startedBy: str,
    startedAt: date,
    finishedAt: nullableDate,
    state: { type: 'string', enum: ['running', 'passed', 'failed'] },
    steps: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'state', 'detail'],
        properties: {
          name: { type: 'string', enum: DRILL_STEPS },
          state: { type: 'string', enum: ['pending', 'passed', 'failed', 'skipped'] },
          detail: str,
        },
      },
    },
    requestId: nullableStr,
  },
} as const;

const idOf = (pattern: string) =>
  ({
    type: 'object',
    required: ['id'],
    additionalProperties: false,
    properties: { id: { type: 'string', pattern } },
  }) as const;
const unsealParams = idOf('^unseal_[0-9a-f]{32}$');
const postmortemParams = idOf('^pm_[0-9a-f]{16}$');
const drillParams = idOf('^drill_[0-9a-f]{16}$');
const id = { type: 'string', minLength: 1, maxLength: 200 } as const;

export interface BreakglassServices {
  invoker: Invoker;
  seals: Seals;
  unseal: Unseal;
  postmortems: Postmortems;
  drills: Drills;
}

/** Break-glass over HTTP: invoke, seals and unsealing, postmortems, drills. Each service authorizes itself. */
export function breakglassRoutes(s: BreakglassServices) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const api = app.withTypeProvider<SchemaTypes>();

    api.post(
      '/v1/breakglass',
      {
        schema: {
          operationId: 'invokeBreakglass',
          summary:
            'Break glass: emergency access without approval (step-up MFA and a reason; alerts security)',
          description:
            "Only for whom the policy's `breakglass:` block names, within its maximum duration, one holder per resource " +
            'at a time (409 BREAKGLASS_HELD names the holder). The alert `breakglass.invoked` is written with the grant or ' +
            'nothing is granted (503 AUDIT_UNAVAILABLE). Answers once the credential was issued: take it with ' +
            'POST /v1/requests/{id}/credentials.',
          tags,
          body: {
            type: 'object',
            required: ['resource', 'role', 'reason'],
            additionalProperties: false,
            properties: {
              resource: id,
              role: id,
              reason: { type: 'string', maxLength: 500 },
              duration: {
                type: 'string',
                maxLength: 20,
                description: "e.g. 30m; default and limit: the entry's maxDuration",
              },
            },
          },
          response: { 201: invocationView, ...errors },
        },
      },
      async (request, reply) => {
        const { duration, ...rest } = request.body;
        const view = await s.invoker.invoke(actorOf(request), {
          ...rest,
          ...(duration === undefined ? {} : { durationSeconds: parseDuration(duration) }),
        });
        return reply.status(201).send(view);
      },
    );

    api.get(
      '/v1/breakglass',
      {
        schema: {
          operationId: 'listBreakglass',
          summary: 'Break-glass invocations: mine, or all (security, auditors, admins)',
          tags,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              live: { type: 'boolean', description: 'only those not yet followed up (held, or ending)' },
            },
          },
          response: {
            200: {
              type: 'object',
              required: ['invocations'],
              properties: { invocations: { type: 'array', items: invocationView } },
            },
            ...errors,
          },
        },
      },
      async (request) => ({
        invocations: await s.invoker.list(actorOf(request), { live: request.query.live === true }),
      }),
    );

    api.post(
      '/v1/breakglass/seals',
      {
        schema: {
          operationId: 'createSeal',
          summary: 'Store a sealed break-glass secret (made by `stint breakglass seal`; never the shares)',
          tags,
          body: {
            type: 'object',
            required: ['id', 'scope', 'label', 'threshold', 'officers', 'sealed', 'recordKey'],
            additionalProperties: false,
            properties: {
              id: { type: 'string', pattern: '^seal_[0-9a-f]{16}$' },
              scope: { ...id, description: "a resource id, or `stint` for the deployment's recovery secret" },
              label: { type: 'string', minLength: 1, maxLength: 200 },
              threshold: { type: 'integer', minimum: 2, maximum: 20 },
              officers: {
                type: 'array',
                minItems: 2,
                maxItems: 20,
                items: {
                  type: 'object',
                  required: ['user', 'commitment'],
                  additionalProperties: false,
                  properties: { user: id, commitment: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
                },
              },
              sealed: { type: 'string', minLength: 1, maxLength: 40_000 },
              recordKey: { type: 'string', minLength: 1, maxLength: 200 },
            },
          },
          response: { 201: sealView, ...errors },
        },
      },
      async (request, reply) => reply.status(201).send(await s.seals.create(actorOf(request), request.body)),
    );

    api.get(
      '/v1/breakglass/seals',
      {
        schema: {
          operationId: 'listSeals',
          summary:
            'Sealed break-glass secrets I have a part in (all: security, auditors, admins); never a secret or share',
          tags,
          response: {
            200: {
              type: 'object',
              required: ['seals'],
              properties: { seals: { type: 'array', items: sealView } },
            },
            ...errors,
          },
        },
      },
      async (request) => ({ seals: await s.seals.list(actorOf(request)) }),
    );

    api.post(
      '/v1/breakglass/unseal',
      {
        schema: {
          operationId: 'openUnseal',
          summary:
            'Open an unseal attempt of a sealed secret: officers then give their shares against its id',
          description:
            'One attempt per seal at a time (409 UNSEAL_BUSY); it lapses after 15 minutes. `drill: true` only ' +
            'proves the shares open the seal: the secret is not revealed and the seal stays as it was.',
          tags,
          body: {
            type: 'object',
            required: ['scope', 'reason'],
            additionalProperties: false,
            properties: { scope: id, reason: { type: 'string', maxLength: 500 }, drill: { type: 'boolean' } },
          },
          response: { 201: unsealView, ...errors },
        },
      },
      async (request, reply) => {
        const { drill, ...rest } = request.body;
        const view = await s.unseal.open(actorOf(request), { ...rest, purpose: drill ? 'drill' : 'use' });
        return reply.status(201).send(view);
      },
    );

    api.get(
      '/v1/breakglass/unseal',
      {
        schema: {
          operationId: 'unsealProgress',
          summary: 'Unseal attempts open now or ended today, with who has given a share',
          tags,
          response: {
            200: {
              type: 'object',
              required: ['attempts'],
              properties: { attempts: { type: 'array', items: unsealView } },
            },
            ...errors,
          },
        },
      },
      async (request) => ({ attempts: await s.unseal.status(actorOf(request)) }),
    );

    api.post(
      '/v1/breakglass/unseal/:id/shares',
      {
        schema: {
          operationId: 'giveShare',
          summary: 'Give my share to an open unseal attempt (officers; step-up MFA)',
          description:
            'A share that is not the one issued to the caller answers 400 SHARE_INVALID and is recorded; the third ' +
            'wrong share fails the attempt. Each officer gives once (409 SHARE_ALREADY_GIVEN).',
          tags,
          params: unsealParams,
          body: {
            type: 'object',
            required: ['share'],
            additionalProperties: false,
            properties: { share: { type: 'string', minLength: 1, maxLength: 1000 } },
          },
          response: { 200: unsealView, ...errors },
        },
      },
      async (request) => s.unseal.give(actorOf(request), request.params.id, request.body.share),
    );

    api.post(
      '/v1/breakglass/unseal/:id/secret',
      {
        schema: {
          operationId: 'takeUnsealedSecret',
          summary: 'The opened secret, once, to whoever opened the attempt',
          tags,
          params: unsealParams,
          response: {
            200: {
              type: 'object',
              required: ['unsealId', 'sealId', 'scope', 'secret'],
              properties: { unsealId: str, sealId: str, scope: str, secret: str },
            },
            ...errors,
          },
        },
      },
      async (request) => s.unseal.take(actorOf(request), request.params.id),
    );

    api.get(
      '/v1/breakglass/postmortems',
      {
        schema: {
          operationId: 'listPostmortems',
          summary: 'Postmortems of break-glass uses: mine, or all (security, auditors, admins)',
          tags,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { state: { type: 'string', enum: ['open', 'closed'] }, overdue: { type: 'boolean' } },
          },
          response: {
            200: {
              type: 'object',
              required: ['postmortems'],
              properties: { postmortems: { type: 'array', items: postmortemView } },
            },
            ...errors,
          },
        },
      },
      async (request) => {
        const { state, overdue } = request.query;
        return {
          postmortems: await s.postmortems.list(actorOf(request), {
            ...(state ? { state } : {}),
            ...(overdue ? { overdue } : {}),
          }),
        };
      },
    );

    api.get(
      '/v1/breakglass/postmortems/:id',
      {
        schema: {
          operationId: 'getPostmortem',
          summary: 'One postmortem, its timeline read from the audit trail as it is now',
          tags,
          params: postmortemParams,
          response: { 200: postmortemView, ...errors },
        },
      },
      async (request) => s.postmortems.get(actorOf(request), request.params.id),
    );

    api.post(
      '/v1/breakglass/postmortems/:id',
      {
        schema: {
          operationId: 'fillPostmortem',
          summary:
            'Fill in a postmortem: owner, due, classification, root cause, follow-ups (its owner or security)',
          tags,
          params: postmortemParams,
          body: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: {
              owner: id,
              due: { type: 'string', maxLength: 20, description: 'from now, e.g. 3d' },
              classification: { type: 'string', enum: CLASSIFICATIONS },
              rootCause: { type: 'string', minLength: 1, maxLength: 5000 },
              followUps: {
                type: 'array',
                maxItems: 50,
                items: { type: 'string', minLength: 1, maxLength: 500 },
              },
            },
          },
          response: { 200: postmortemView, ...errors },
        },
      },
      async (request) => {
        const { due, ...rest } = request.body;
        return s.postmortems.fill(actorOf(request), request.params.id, {
          ...rest,
          ...(due === undefined ? {} : { dueSeconds: parseDuration(due) }),
        });
      },
    );

    api.post(
      '/v1/breakglass/postmortems/:id/close',
      {
        schema: {
          operationId: 'closePostmortem',
          summary:
            'Close a postmortem (needs its classification and root cause; a sealed secret re-sealed first)',
          tags,
          params: postmortemParams,
          response: { 200: postmortemView, ...errors },
        },
      },
      async (request) => s.postmortems.close(actorOf(request), request.params.id),
    );

    api.post(
      '/v1/breakglass/drills',
      {
        schema: {
          operationId: 'startDrill',
          summary:
            'Run a break-glass drill on a resource: invokes for real and checks every link (202; poll it)',
          tags,
          body: {
            type: 'object',
            required: ['resource'],
            additionalProperties: false,
            properties: {
              resource: id,
              role: id,
              reason: { type: 'string', maxLength: 500 },
              ackTimeout: {
                type: 'string',
                maxLength: 20,
                description: 'how long to wait for every channel to acknowledge (default 2m)',
              },
            },
          },
          response: { 202: drillView, ...errors },
        },
      },
      async (request, reply) => {
        const { ackTimeout, ...rest } = request.body;
        const view = await s.drills.start(actorOf(request), {
          ...rest,
          ...(ackTimeout === undefined ? {} : { ackTimeoutSeconds: parseDuration(ackTimeout) }),
        });
        return reply.status(202).send(view);
      },
    );

    api.get(
      '/v1/breakglass/drills',
      {
        schema: {
          operationId: 'listDrills',
          summary: 'Drills: mine, or all (security, auditors, admins)',
          tags,
          response: {
            200: {
              type: 'object',
              required: ['drills'],
              properties: { drills: { type: 'array', items: drillView } },
            },
            ...errors,
          },
        },
      },
      async (request) => ({ drills: await s.drills.list(actorOf(request)) }),
    );

    api.get(
      '/v1/breakglass/drills/:id',
      {
        schema: {
          operationId: 'getDrill',
          summary: 'One drill and each step’s pass or fail',
          tags,
          params: drillParams,
          response: { 200: drillView, ...errors },
        },
      },
      async (request) => s.drills.get(actorOf(request), request.params.id),
    );
  };
}

/**
 * Who may call the break-glass routes. Changes are for people (a sign-in session or a full-power token), never a
 * scoped token: each asks a fresh second factor or a person's judgement. Reads take `audit:read`.
 */
export const BREAKGLASS_ROUTE_ACCESS: ModuleRoutes['access'] = {
  'POST /v1/breakglass': null,
  'GET /v1/breakglass': 'audit:read',
  'POST /v1/breakglass/seals': null,
  'GET /v1/breakglass/seals': 'audit:read',
  'POST /v1/breakglass/unseal': null,
  'GET /v1/breakglass/unseal': 'audit:read',
  'POST /v1/breakglass/unseal/:id/shares': null,
  'POST /v1/breakglass/unseal/:id/secret': null,
  'GET /v1/breakglass/postmortems': 'audit:read',
  'GET /v1/breakglass/postmortems/:id': 'audit:read',
  'POST /v1/breakglass/postmortems/:id': null,
  'POST /v1/breakglass/postmortems/:id/close': null,
  'POST /v1/breakglass/drills': null,
  'GET /v1/breakglass/drills': 'audit:read',
  'GET /v1/breakglass/drills/:id': 'audit:read',
};
