import type { FastifyInstance } from 'fastify';
import { actorOf } from '../http/request-context.js';
import { errorResponses, type SchemaTypes } from '../http/schemas.js';
import type { ModuleRoutes } from '../module.js';
import type { ConversionService } from './conversion-service.js';

const tags = ['operations'];
const str = { type: 'string' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const strings = { type: 'array', items: str } as const;
const states = ['planned', 'entitled', 'removed', 'done', 'abandoned'];
const quarter = { type: 'string', pattern: '^\\d{4}-Q[1-4]$', description: 'e.g. 2026-Q4' } as const;

const conversionView = {
  type: 'object',
  required: [
    'id',
    'quarter',
    'resource',
    'kind',
    'principal',
    'privilege',
    'jitRole',
    'state',
    'plannedBy',
    'plannedAt',
  ],
  properties: {
    id: str,
    quarter: str,
    resource: str,
    kind: str,
    principal: str,
    privilege: str,
    jitRole: str,
    state: { type: 'string', enum: states },
    plannedBy: str,
    plannedAt: str,
    entitledAt: nullableStr,
    rules: strings,
    removedAt: nullableStr,
    endedAt: nullableStr,
    note: nullableStr,
  },
} as const;

const principalView = {
  type: 'object',
  required: ['principal', 'privileges', 'reason'],
  properties: {
    principal: str,
    privileges: strings,
    reason: str,
    detail: { type: 'object', additionalProperties: true },
  },
} as const;

const inventoryView = {
  type: 'object',
  required: ['resources'],
  properties: {
    resources: {
      type: 'array',
      items: {
        type: 'object',
        required: ['resource', 'kind', 'inventory', 'removable', 'ok', 'principals', 'entitlements'],
        properties: {
          resource: str,
          kind: str,
          inventory: { type: 'string', enum: ['standing', 'none'] },
          why: str,
          sees: str,
          removable: { type: 'boolean' },
          ok: { type: 'boolean' },
          principals: { type: 'array', items: principalView },
          entitlements: {
            type: 'array',
            items: {
              type: 'object',
              required: ['role', 'grants', 'rules'],
              properties: { role: str, grants: strings, rules: strings },
            },
          },
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: { code: str, message: str, class: str },
          },
        },
      },
    },
  },
} as const;

const reportView = {
  type: 'object',
  required: ['quarter', 'planned', 'done', 'abandoned', 'left', 'byState', 'remaining'],
  properties: {
    quarter: str,
    planned: { type: 'integer' },
    done: { type: 'integer' },
    abandoned: { type: 'integer' },
    left: { type: 'integer' },
    byState: { type: 'object', additionalProperties: { type: 'integer' } },
    remaining: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: str,
          resource: str,
          principal: str,
          privilege: str,
          jitRole: str,
          state: { type: 'string', enum: states },
        },
      },
    },
  },
} as const;

const idParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: '^conv_[0-9a-f]{16}$' } },
} as const;

const name = { type: 'string', minLength: 1, maxLength: 200 } as const;

export function conversionRoutes(service: ConversionService) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const api = app.withTypeProvider<SchemaTypes>();

    api.get(
      '/v1/inventory',
      {
        schema: {
          operationId: 'getInventory',
          summary:
            'Standing privilege on each target that Stint did not grant, beside the just-in-time entitlements',
          tags,
          response: { 200: inventoryView, ...errorResponses },
        },
      },
      async (request) => ({ resources: await service.inventory(actorOf(request)) }),
    );

    api.get(
      '/v1/conversions',
      {
        schema: {
          operationId: 'listConversions',
          summary: 'Conversions of standing access to just-in-time entitlements, optionally of one quarter',
          tags,
          querystring: { type: 'object', additionalProperties: false, properties: { quarter } },
          response: { 200: { type: 'array', items: conversionView }, ...errorResponses },
        },
      },
      async (request) => service.list(actorOf(request), request.query.quarter),
    );

    api.post(
      '/v1/conversions',
      {
        schema: {
          operationId: 'planConversion',
          summary:
            'Plan converting one standing grant (as GET /v1/inventory lists it) to a just-in-time role',
          tags,
          body: {
            type: 'object',
            required: ['resource', 'principal', 'privilege', 'jitRole', 'quarter'],
            additionalProperties: false,
            properties: {
              resource: name,
              principal: name,
              privilege: { type: 'string', minLength: 1, maxLength: 300 },
              jitRole: name,
              quarter,
              note: { type: 'string', maxLength: 500 },
            },
          },
          response: { 201: conversionView, ...errorResponses },
        },
      },
      async (request, reply) => {
        const made = await service.plan(actorOf(request), request.body);
        return reply.code(201).send(made);
      },
    );

    api.get(
      '/v1/conversions/:id',
      {
        schema: {
          operationId: 'getConversion',
          summary: 'One conversion and the step it reached',
          tags,
          params: idParams,
          response: { 200: conversionView, ...errorResponses },
        },
      },
      async (request) => service.show(actorOf(request), request.params.id),
    );

    const steps = [
      [
        'entitled',
        'confirmConversionEntitled',
        'Confirm the loaded policy defines the just-in-time role with a rule',
      ],
      [
        'removed',
        'removeConversionStanding',
        'Remove the standing grant on the target, and verify it is gone',
      ],
      ['done', 'completeConversion', 'Close the conversion once the standing grant is removed'],
    ] as const;
    for (const [stepName, operationId, summary] of steps) {
      api.post(
        `/v1/conversions/:id/${stepName}`,
        {
          schema: {
            operationId,
            summary,
            tags,
            params: idParams,
            response: { 200: conversionView, ...errorResponses },
          },
        },
        async (request) => service[stepName](actorOf(request), request.params.id),
      );
    }

    api.post(
      '/v1/conversions/:id/abandon',
      {
        schema: {
          operationId: 'abandonConversion',
          summary: 'Give a conversion up (any step before done), with the reason',
          tags,
          params: idParams,
          body: {
            type: 'object',
            required: ['reason'],
            additionalProperties: false,
            properties: { reason: { type: 'string', minLength: 1, maxLength: 500 } },
          },
          response: { 200: conversionView, ...errorResponses },
        },
      },
      async (request) => service.abandon(actorOf(request), request.params.id, request.body.reason),
    );

    api.get(
      '/v1/conversion/report',
      {
        schema: {
          operationId: 'getConversionReport',
          summary:
            "A quarter's conversion progress: planned, done, left, and the standing grants that remain",
          tags,
          querystring: {
            type: 'object',
            required: ['quarter'],
            additionalProperties: false,
            properties: { quarter },
          },
          response: { 200: reportView, ...errorResponses },
        },
      },
      async (request) => service.report(actorOf(request), request.query.quarter),
    );
  };
}

/** Reads for security, auditors and admins (scoped tokens: audit:read); changes for people only, never a token's scope. */
export const CONVERSION_ROUTE_ACCESS: ModuleRoutes['access'] = {
  'GET /v1/inventory': 'audit:read',
  'GET /v1/conversions': 'audit:read',
  'POST /v1/conversions': null,
  'GET /v1/conversions/:id': 'audit:read',
  'POST /v1/conversions/:id/entitled': null,
  'POST /v1/conversions/:id/removed': null,
  'POST /v1/conversions/:id/done': null,
  'POST /v1/conversions/:id/abandon': null,
  'GET /v1/conversion/report': 'audit:read',
};
