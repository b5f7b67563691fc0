import type { FastifyInstance } from 'fastify';
import { actorOf } from '../http/request-context.js';
import { errorResponses, type SchemaTypes } from '../http/schemas.js';
import type { ModuleRoutes } from '../module.js';
import type { MfaService } from './mfa-types.js';

const errors = { ...errorResponses, 429: { $ref: 'Error#' } } as const;

const codeBody = {
  type: 'object',
  required: ['code'],
  additionalProperties: false,
  properties: { code: { type: 'string', pattern: '^[0-9]{6}$', description: 'the 6-digit code of the app' } },
} as const;

const stepUpView = {
  type: 'object',
  required: ['method', 'verifiedAt', 'validUntil'],
  properties: {
    method: { type: 'string', enum: ['totp', 'webauthn'] },
    verifiedAt: { type: 'string', format: 'date-time' },
    validUntil: { type: 'string', format: 'date-time' },
  },
} as const;

const statusView = {
  type: 'object',
  required: ['totp', 'webauthnCredentials', 'verifiedAt', 'validUntil', 'maxAgeSeconds'],
  properties: {
    totp: { type: 'string', enum: ['none', 'pending', 'confirmed'] },
    webauthnCredentials: { type: 'integer' },
    verifiedAt: { type: ['string', 'null'], format: 'date-time' },
    validUntil: { type: ['string', 'null'], format: 'date-time' },
    maxAgeSeconds: { type: 'integer' },
  },
} as const;

/** PublicKeyCredential.toJSON() from the browser; the WebAuthn library checks every field of it. */
const credentialBody = {
  type: 'object',
  required: ['response'],
  additionalProperties: false,
  properties: {
    response: {
      type: 'object',
      required: ['id', 'rawId', 'type', 'response'],
      additionalProperties: true,
      properties: {
        id: { type: 'string', maxLength: 1024 },
        rawId: { type: 'string', maxLength: 1024 },
        type: { type: 'string', const: 'public-key' },
        response: { type: 'object', additionalProperties: true },
      },
    },
  },
} as const;

/** WebAuthn options go to the browser as the library made them (navigator.credentials.create/get). */
const optionsView = { type: 'object', additionalProperties: true } as const;

const resetView = {
  type: 'object',
  required: ['id', 'user', 'reason', 'requestedBy', 'requestedAt', 'expiresAt', 'confirmedBy', 'confirmedAt'],
  properties: {
    id: { type: 'string' },
    user: { type: 'string' },
    reason: { type: 'string' },
    requestedBy: { type: 'string' },
    requestedAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time' },
    confirmedBy: { type: ['string', 'null'] },
    confirmedAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

/** Step-up MFA: every route acts on the caller's own factors, except the two-person reset of someone's. */
export function mfaRoutes(service: MfaService) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const api = app.withTypeProvider<SchemaTypes>();
    const tags = ['mfa'];

    api.get(
      '/v1/mfa',
      {
        schema: {
          operationId: 'getMfaStatus',
          summary: 'My second factors and whether a step-up is fresh',
          tags,
          response: { 200: statusView, ...errors },
        },
      },
      async (request) => service.status(actorOf(request)),
    );

    api.post(
      '/v1/mfa/totp/enroll',
      {
        schema: {
          operationId: 'enrollTotp',
          summary: 'Start a TOTP enrollment: the secret is shown once, and counts after it is confirmed',
          tags,
          response: {
            201: {
              type: 'object',
              required: ['secret', 'otpauthUrl'],
              properties: { secret: { type: 'string' }, otpauthUrl: { type: 'string' } },
            },
            ...errors,
          },
        },
      },
      async (request, reply) => {
        const enrollment = await service.enrollTotp(actorOf(request));
        // The secret is shown once: no cache along the way may keep a copy.
        return reply.status(201).header('cache-control', 'no-store').send(enrollment);
      },
    );

    api.post(
      '/v1/mfa/totp/confirm',
      {
        schema: {
          operationId: 'confirmTotp',
          summary: 'Confirm a TOTP enrollment with a code from the app',
          tags,
          body: codeBody,
          response: { 200: statusView, ...errors },
        },
      },
      async (request) => service.confirmTotp(actorOf(request), request.body.code),
    );

    api.post(
      '/v1/mfa/verify',
      {
        schema: {
          operationId: 'verifyMfa',
          summary: 'Step up: verify a second factor, which counts for approvals for a while',
          tags,
          body: {
            type: 'object',
            required: ['method', 'code'],
            additionalProperties: false,
            properties: { method: { type: 'string', enum: ['totp'] }, code: codeBody.properties.code },
          },
          response: { 200: stepUpView, ...errors },
        },
      },
      async (request) => service.verify(actorOf(request), request.body),
    );

    api.post(
      '/v1/mfa/webauthn/register/options',
      {
        schema: {
          operationId: 'webauthnRegisterOptions',
          summary: 'Options for navigator.credentials.create(): registering a security key or passkey',
          tags,
          response: { 200: optionsView, ...errors },
        },
      },
      async (request) => service.webauthnRegisterOptions(actorOf(request)),
    );

    api.post(
      '/v1/mfa/webauthn/register/verify',
      {
        schema: {
          operationId: 'webauthnRegisterVerify',
          summary: 'Register the authenticator that answered the registration options',
          tags,
          body: credentialBody,
          response: {
            200: {
              type: 'object',
              required: ['credentialId'],
              properties: { credentialId: { type: 'string' } },
            },
            ...errors,
          },
        },
      },
      async (request) => service.webauthnRegisterVerify(actorOf(request), request.body.response),
    );

    api.post(
      '/v1/mfa/webauthn/authenticate/options',
      {
        schema: {
          operationId: 'webauthnAuthenticateOptions',
          summary: 'Options for navigator.credentials.get(): a step-up with a registered authenticator',
          tags,
          response: { 200: optionsView, ...errors },
        },
      },
      async (request) => service.webauthnAuthenticateOptions(actorOf(request)),
    );

    api.post(
      '/v1/mfa/resets',
      {
        config: { idempotent: true },
        schema: {
          operationId: 'requestMfaReset',
          summary:
            "An admin asks to reset a user's second factors (lost authenticator); security confirms it",
          tags,
          body: {
            type: 'object',
            required: ['user', 'reason'],
            additionalProperties: false,
            properties: {
              user: { type: 'string', minLength: 1, maxLength: 200 },
              reason: { type: 'string', minLength: 1, maxLength: 500 },
            },
          },
          response: { 201: resetView, ...errors },
        },
      },
      async (request, reply) =>
        reply.status(201).send(await service.requestReset(actorOf(request), request.body)),
    );

    api.post(
      '/v1/mfa/resets/:id/confirm',
      {
        config: { idempotent: true },
        schema: {
          operationId: 'confirmMfaReset',
          summary: "Security confirms a reset another person asked for: the user's factors are removed",
          tags,
          params: {
            type: 'object',
            required: ['id'],
            properties: { id: { type: 'string', maxLength: 100 } },
          },
          response: { 200: resetView, ...errors },
        },
      },
      async (request) => service.confirmReset(actorOf(request), request.params.id),
    );

    api.post(
      '/v1/mfa/webauthn/authenticate/verify',
      {
        schema: {
          operationId: 'webauthnAuthenticateVerify',
          summary: 'Step up with a registered authenticator',
          tags,
          body: credentialBody,
          response: { 200: stepUpView, ...errors },
        },
      },
      async (request) => service.webauthnAuthenticateVerify(actorOf(request), request.body.response),
    );
  };
}

/**
 * Second factors are the person's own: enrolling one further needs a sign-in session (factors.ts), and no scoped
 * token reaches any of these. Someone else's factors: an admin asks, a second person from security confirms
 * (factor-reset.ts).
 */
export const MFA_ROUTE_ACCESS: ModuleRoutes['access'] = {
  'GET /v1/mfa': null,
  'POST /v1/mfa/totp/enroll': null,
  'POST /v1/mfa/totp/confirm': null,
  'POST /v1/mfa/verify': null,
  'POST /v1/mfa/webauthn/register/options': null,
  'POST /v1/mfa/webauthn/register/verify': null,
  'POST /v1/mfa/webauthn/authenticate/options': null,
  'POST /v1/mfa/webauthn/authenticate/verify': null,
  'POST /v1/mfa/resets': null,
  'POST /v1/mfa/resets/:id/confirm': null,
};
