import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Stint } from '../app/stint.js';
import { registerAuditGate } from './audit-gate.js';
import { drainOnClose } from './drain.js';
import { registerErrorHandler } from './error-handler.js';
import { clientErrorHandler, frameworkErrors } from './framework-errors.js';
import { registerIdempotency } from './idempotency.js';
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

/** What the server mounts: each module's services become its routes; nothing else of the app is reached. */
export type HttpMounts = Pick<
  Stint,
  'requests' | 'catalog' | 'audit' | 'mfa' | 'identity' | 'directory' | 'idempotency' | 'ready'
>;

export async function buildHttpApp(
  stint: HttpMounts,
  options: {
    /** A pino logger made with `httpLogOptions` (redaction); none logs nothing. */
    logger?: FastifyBaseLogger;
    /** SCIM provisioning endpoints other than the directory module's (tests serve their own). */
    scim?: ScimRoutesDeps | null;
    /** How long closing waits for requests in flight (drain.ts). */
    drainTimeoutMs?: number;
  } = {},
): Promise<FastifyInstance> {
  const { identity } = stint;
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: 64 * 1024,
    // The client address (lock-out, rate limits, audit) is taken from X-Forwarded-For only when the hop that
    // sent it is a configured proxy: otherwise any caller could pick its own address.
    trustProxy: identity.config.trustedProxies.length > 0 ? identity.config.trustedProxies : false,
    // Refusals before any route runs answer in the API's error shape (SCIM's under /scim), never Fastify's.
    frameworkErrors,
    clientErrorHandler,
    // Closing drains requests in flight instead (drain.ts): neither reap waiting connections nor refuse them.
    forceCloseConnections: false,
    return503OnClosing: false,
  });

  recordRoutes(app);
  drainOnClose(app, {
    ...(options.drainTimeoutMs === undefined ? {} : { timeoutMs: options.drainTimeoutMs }),
    onCut: (connections) =>
      app.log.warn({ connections }, 'shutdown: requests still in flight after the drain timeout were cut'),
  });
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
    // Shared schemas keep their $id as the component name (Request, Credential, Error…), so a client generated
    // from the document has named types rather than def-0, def-1.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  registerValidation(app);
  for (const schema of sharedSchemas) app.addSchema(schema);
  registerErrorHandler(app);
  registerAuditGate(app, () => stint.audit.trail.assertWritable());
  // Before any route (token routes come with identity): hooks and schemas apply to routes added after them.
  registerIdempotency(app, stint.idempotency.service);
  await registerIdentity(app, identity);

  await app.register(healthRoutes(() => stint.ready()));
  await app.register(requestRoutes(stint.requests.service));
  await app.register(directoryRoutes(stint.catalog.service));
  await app.register(auditRoutes(stint.audit.events));
  await app.register(auditLogRoutes(stint.audit.service));
  await app.register(mfaRoutes(stint.mfa.service));
  const scim = options.scim ?? stint.directory?.scim;
  if (scim) await app.register(scimRoutes(scim));
  await app.register(homeRoutes(identity, { signIn: identity.oidc !== null }));
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
