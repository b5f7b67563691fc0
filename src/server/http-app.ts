import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Stint } from '../app/stint.js';
import { type IdentityOptions, registerIdentity } from '../identity/register-identity.js';
import { registerErrorHandler } from './error-handler.js';
import { auditLogRoutes } from './routes/audit-log-routes.js';
import { auditRoutes } from './routes/audit-routes.js';
import { directoryRoutes } from './routes/directory-routes.js';
import { healthRoutes } from './routes/health-routes.js';
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
  stint: Pick<Stint, 'service' | 'audit' | 'mfa' | 'tokens' | 'deps'>,
  options: {
    /** A pino logger made with `httpLogOptions` (redaction); none logs nothing. */
    logger?: FastifyBaseLogger;
    identity?: IdentityOptions;
    /** SCIM provisioning endpoints, when a directory module provides them. */
    scim?: ScimRoutesDeps | null;
  } = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: 64 * 1024,
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Stint API', version: '1', description: 'Just-in-time privileged access' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  registerValidation(app);
  for (const schema of sharedSchemas) app.addSchema(schema);
  registerErrorHandler(app);
  await registerIdentity(
    app,
    {
      store: stint.deps.store,
      tokens: stint.tokens,
      policy: stint.deps.policy,
      clock: stint.deps.clock,
      secrets: stint.deps.secrets,
    },
    options.identity,
  );

  await app.register(healthRoutes(() => stint.deps.store.health.check(READY_STORE_MS)));
  await app.register(requestRoutes(stint.service));
  await app.register(directoryRoutes(stint.service));
  await app.register(auditRoutes(stint.service));
  await app.register(auditLogRoutes(stint.audit));
  await app.register(mfaRoutes(stint.mfa));
  if (options.scim) await app.register(scimRoutes(options.scim));
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}
