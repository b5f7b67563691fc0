import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Stint } from '../app/stint.js';
import { routeAccessTable } from '../auth/route-access.js';
import { SCIM_ROUTE_ACCESS, type ScimRoutesDeps, scimRoutes } from '../directory/scim-routes.js';
import { sharedSchemas } from '../http/schemas.js';
import type { ModuleRoutes } from '../module.js';
import { registerAuditGate } from './audit-gate.js';
import { drainOnClose } from './drain.js';
import { registerErrorHandler } from './error-handler.js';
import { clientErrorHandler, frameworkErrors } from './framework-errors.js';
import { registerIdempotency } from './idempotency.js';
import type { BuiltPortal } from './portal.js';
import { registerIdentity } from './register-identity.js';
import { recordRoutes } from './route-table.js';
import { healthRoutes } from './routes/health-routes.js';
import { homeRoutes } from './routes/home-routes.js';
import { PORTAL_ROUTE_ACCESS, portalRoutes } from './routes/portal-routes.js';
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

/**
 * What the server mounts: every module's routes, and the few parts the server's own hooks need (who is calling,
 * idempotency keys, the audit gate, readiness). Nothing else of the app is reached.
 */
export type HttpMounts = Pick<Stint, 'modules' | 'identity' | 'idempotency' | 'audit' | 'ready'>;

/** The server's own routes: no module owns them. */
export const SERVER_ROUTE_ACCESS: ModuleRoutes['access'] = {
  'GET /': 'public',
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /openapi.json': 'public',
};

export async function buildHttpApp(
  stint: HttpMounts,
  options: {
    /** A pino logger made with `httpLogOptions` (redaction); none logs nothing. */
    logger?: FastifyBaseLogger;
    /** SCIM provisioning endpoints when no directory module serves them (tests serve their own). */
    scim?: ScimRoutesDeps | null;
    /** How long closing waits for requests in flight (drain.ts). */
    drainTimeoutMs?: number;
    /** The built portal served at / and its pages (portal.ts); none keeps the start page. */
    portal?: BuiltPortal | null;
  } = {},
): Promise<FastifyInstance> {
  const { identity } = stint;
  const scim = options.scim ? { plugin: scimRoutes(options.scim), access: SCIM_ROUTE_ACCESS } : null;
  const mounted: ModuleRoutes[] = [...stint.modules.flatMap((m) => m.routes ?? []), ...(scim ? [scim] : [])];
  const access = routeAccessTable([
    SERVER_ROUTE_ACCESS,
    PORTAL_ROUTE_ACCESS,
    ...mounted.map((r) => r.access),
  ]);
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

  recordRoutes(app, access);
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
  await registerIdentity(app, identity, access);

  await app.register(healthRoutes(() => stint.ready()));
  for (const routes of mounted) await app.register(routes.plugin);
  const portal = options.portal ?? null;
  await app.register(homeRoutes(identity, { signIn: identity.oidc !== null, portal }));
  await app.register(portalRoutes(portal));
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
