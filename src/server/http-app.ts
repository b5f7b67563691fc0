import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Stint } from '../app/stint.js';
import { createIdentityModule, type IdentityOptions } from '../identity/identity-module.js';
import { registerAuditGate } from './audit-gate.js';
import { closeConnectionsOnShutdown } from './close-connections.js';
import { registerErrorHandler } from './error-handler.js';
import { clientErrorHandler, frameworkErrors } from './framework-errors.js';
import { registerIdentity } from './register-identity.js';
import { recordRoutes } from './route-table.js';
import { auditLogRoutes } from './routes/audit-log-routes.js';
import { auditRoutes } from './routes/audit-routes.js';
import { directoryRoutes } from './routes/directory-routes.js';
import { healthRoutes } from './routes/health-routes.js';
import { homeRoutes } from './routes/home-routes.js';
import { mfaRoutes } from './routes/mfa-routes.js';
import { requestRoutes } from './routes/request-routes.js';
import { type ScimRoutesDeps, scimRoutes } from './routes/scim-routes.js';
import { sharedSchemas } from './schemas.js';
import { registerValidation } from './validation.js';

/**
 * Logger settings for the server: secrets never reach a log line. Headers that carry credentials are redacted,
 * and request URLs are logged without their query string, which can carry one-time secrets (an OIDC callback's
 * code and state).
 */
export const httpLogOptions = {
  redact: ['req.headers.authorization', 'req.headers.cookie', 'secret', '*.secret', '*.password'],
  serializers: {
    req: (req: { method: string; url: string; id: string }) => ({
      id: req.id,
      method: req.method,
      url: req.url.split('?')[0],
    }),
  },
};

/** The store's share of /readyz, which must answer within a second whether the store does or not. */
const READY_STORE_MS = 800;

export async function buildHttpApp(
  stint: Pick<Stint, 'service' | 'audit' | 'auditTrail' | 'mfa' | 'tokens' | 'deps'>,
  options: {
    /** A pino logger made with `httpLogOptions` (redaction); none logs nothing. */
    logger?: FastifyBaseLogger;
    identity?: IdentityOptions;
    /** SCIM provisioning endpoints, when a directory module provides them. */
    scim?: ScimRoutesDeps | null;
  } = {},
): Promise<FastifyInstance> {
  const identity = createIdentityModule(
    {
      store: stint.deps.store,
      policy: stint.deps.policy,
      clock: stint.deps.clock,
      secrets: stint.deps.secrets,
    },
    options.identity,
  );
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: 64 * 1024,
    // The client address (lock-out, rate limits, audit) is taken from X-Forwarded-For only when the hop that
    // sent it is a configured proxy: otherwise any caller could pick its own address.
    trustProxy: identity.config.trustedProxies.length > 0 ? identity.config.trustedProxies : false,
    // Refusals before any route runs answer in the API's error shape (SCIM's under /scim), never Fastify's.
    frameworkErrors,
    clientErrorHandler,
  });

  recordRoutes(app);
  closeConnectionsOnShutdown(app);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Stint API',
        version: '1',
        description: 'Just-in-time privileged access',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      servers: [{ url: '/', description: 'The server that serves this document' }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  registerValidation(app);
  for (const schema of sharedSchemas) app.addSchema(schema);
  registerErrorHandler(app);
  registerAuditGate(app, () => stint.auditTrail.assertWritable());
  await registerIdentity(app, identity, stint.tokens);

  await app.register(
    healthRoutes(async () => {
      await stint.deps.store.health.check(READY_STORE_MS);
      // Not ready while the audit trail cannot be signed (rolled back, forked, rows missing).
      stint.auditTrail.assertWritable();
    }),
  );
  await app.register(requestRoutes(stint.service));
  await app.register(directoryRoutes(stint.service));
  await app.register(auditRoutes(stint.service));
  await app.register(auditLogRoutes(stint.audit));
  await app.register(mfaRoutes(stint.mfa));
  if (options.scim) await app.register(scimRoutes(options.scim));
  await app.register(homeRoutes(stint, { signIn: Boolean(options.identity?.config?.oidc) }));
  app.get(
    '/openapi.json',
    {
      config: { public: true },
      schema: {
        operationId: 'getOpenApi',
        summary: 'This document',
        tags: ['health'],
        security: [],
        response: { 200: { type: 'object', additionalProperties: true }, 400: { $ref: 'Error#' } },
      },
    },
    async () => app.swagger(),
  );
  await app.ready();
  return app;
}
