import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyTypeProvider } from 'fastify';
import { ERROR_DETAIL_FIELDS, ERROR_STATUS } from '../domain/errors.js';
import { REQUEST_STATES, REQUEST_TIERS } from '../domain/request.js';
import { SENSITIVITIES } from '../policy/policy-types.js';

/**
 * JSON schemas of the API. Requests are validated against them (unknown fields refused); responses are
 * serialised through them, so a field not listed here, a secret added by mistake for instance, never leaves.
 * Every response field the server always sends is `required`: a client generated from the OpenAPI document gets
 * non-optional types, and the route types derived from these schemas make a handler that could omit one fail
 * to compile (the serialiser would answer 500 rather than send it short).
 */
const nullableString = { type: ['string', 'null'] } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: Object.keys(ERROR_STATUS) },
        message: { type: 'string' },
        details: {
          type: 'object',
          additionalProperties: true,
          description: `Facts beside the message; which, per code: ${Object.entries(ERROR_DETAIL_FIELDS)
            .map(([code, fields]) => `${code} (${fields.join(', ')})`)
            .join('; ')}. Other codes carry none.`,
        },
      },
    },
  },
} as const;

export const requestViewSchema = {
  $id: 'Request',
  type: 'object',
  required: [
    'id',
    'requester',
    'resource',
    'role',
    'reason',
    'durationSeconds',
    'state',
    'tiers',
    'waitingFor',
    'eligibleApprovers',
    'reviews',
    'policyVersion',
    'ruleId',
    'createdAt',
    'pendingUntil',
    'approvedAt',
    'activatedAt',
    'expiresAt',
    'endedAt',
    'endedBy',
    'endReason',
    'revocation',
    'revocationError',
    'credentialShown',
    'credentialVanishedAt',
  ],
  properties: {
    id: { type: 'string' },
    requester: { type: 'string' },
    resource: { type: 'string' },
    role: { type: 'string' },
    reason: { type: 'string' },
    durationSeconds: { type: 'integer' },
    state: { type: 'string', enum: REQUEST_STATES },
    tiers: { type: 'array', items: { type: 'string', enum: REQUEST_TIERS } },
    waitingFor: {
      type: 'array',
      items: {
        type: 'object',
        required: ['tier', 'label', 'eligible'],
        properties: {
          tier: { type: 'string' },
          label: { type: 'string' },
          eligible: { type: 'array', items: { type: 'string' } },
        },
      },
    },
    eligibleApprovers: { type: 'array', items: { type: 'string' } },
    reviews: {
      type: 'array',
      items: {
        type: 'object',
        required: ['reviewer', 'decision', 'comment', 'at'],
        properties: {
          reviewer: { type: 'string' },
          decision: { type: 'string', enum: ['approve', 'deny'] },
          comment: { type: 'string' },
          at: dateTime,
        },
      },
    },
    policyVersion: { type: 'string' },
    ruleId: { type: 'string' },
    createdAt: dateTime,
    pendingUntil: dateTime,
    approvedAt: nullableDateTime,
    activatedAt: nullableDateTime,
    expiresAt: nullableDateTime,
    endedAt: nullableDateTime,
    endedBy: nullableString,
    endReason: nullableString,
    revocation: { type: 'string', enum: ['none', 'pending', 'done', 'abandoned'] },
    revocationError: nullableString,
    credentialShown: { type: 'boolean' },
    credentialVanishedAt: nullableDateTime,
  },
} as const;

export const credentialSchema = {
  $id: 'Credential',
  type: 'object',
  required: ['requestId', 'resource', 'role', 'principal', 'expiresAt', 'secret'],
  properties: {
    requestId: { type: 'string' },
    resource: { type: 'string' },
    role: { type: 'string' },
    principal: { type: 'string' },
    expiresAt: dateTime,
    secret: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;

export const resourceSchema = {
  $id: 'Resource',
  type: 'object',
  required: ['id', 'kind', 'description', 'sensitivity', 'roles'],
  properties: {
    id: { type: 'string' },
    kind: { type: 'string' },
    description: { type: 'string' },
    sensitivity: { type: 'string', enum: SENSITIVITIES },
    roles: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'description'],
        properties: { name: { type: 'string' }, description: { type: 'string' } },
      },
    },
  },
} as const;

export const auditEventSchema = {
  $id: 'AuditEvent',
  type: 'object',
  required: ['seq', 'id', 'at', 'actor', 'action', 'requestId', 'details', 'body'],
  properties: {
    seq: { type: 'integer' },
    id: { type: 'string' },
    at: dateTime,
    actor: { type: 'string' },
    action: { type: 'string' },
    requestId: nullableString,
    details: { type: 'object', additionalProperties: true },
    body: { type: ['object', 'null'], additionalProperties: true },
  },
} as const;

export const whoamiSchema = {
  $id: 'WhoAmI',
  type: 'object',
  required: ['userId', 'email', 'name', 'teams', 'manager', 'roles'],
  properties: {
    userId: { type: 'string' },
    email: { type: 'string' },
    name: { type: 'string' },
    teams: { type: 'array', items: { type: 'string' } },
    manager: nullableString,
    roles: { type: 'array', items: { type: 'string' } },
  },
} as const;

export const sharedSchemas = [
  errorSchema,
  requestViewSchema,
  credentialSchema,
  resourceSchema,
  auditEventSchema,
  whoamiSchema,
] as const;

type SharedSchemas = { references: [...typeof sharedSchemas] };
type JsonSchemaTypes = JsonSchemaToTsProvider<{
  ValidatorSchemaOptions: SharedSchemas;
  SerializerSchemaOptions: SharedSchemas;
}>;
/** What the provider makes of one schema, on the way in (validator) or out (serializer). */
type FromRouteSchema<S, Side extends 'validator' | 'serializer'> = (JsonSchemaTypes & { schema: S })[Side];

/**
 * An object schema without `additionalProperties: false` types as `{ [x: string]: unknown; ... }`, which no
 * interface satisfies (interfaces have no implicit index signature). The serialiser writes only the listed
 * properties, so a reply may carry more: the open index is dropped, and the listed properties keep their types.
 */
type Listed<T> = T extends readonly (infer U)[]
  ? Listed<U>[]
  : T extends object
    ? { [K in keyof T as string extends K ? (unknown extends T[K] ? never : K) : K]: Listed<T[K]> }
    : T;

/**
 * Route types derived from the routes' own schemas (`app.withTypeProvider<SchemaTypes>()`), so a handler's
 * request and reply types cannot drift from what is validated and serialised. The shared schemas are given
 * as references: a `$ref` to one of them types as that schema, on the way in and on the way out.
 */
export interface SchemaTypes extends FastifyTypeProvider {
  validator: FromRouteSchema<this['schema'], 'validator'>;
  serializer: Listed<FromRouteSchema<this['schema'], 'serializer'>>;
}

export const errorResponses = {
  400: { $ref: 'Error#' },
  401: { $ref: 'Error#' },
  403: { $ref: 'Error#' },
  404: { $ref: 'Error#' },
  409: { $ref: 'Error#' },
  410: { $ref: 'Error#' },
  500: { $ref: 'Error#' },
  502: { $ref: 'Error#' },
} as const;

export const idParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: '^req_[0-9a-f]{16}$' } },
} as const;

export const commentBody = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { comment: { type: 'string', maxLength: 2000 } },
} as const;
