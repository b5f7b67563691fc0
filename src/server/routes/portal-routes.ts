import type { FastifyInstance, FastifyReply } from 'fastify';
import { StintError } from '../../domain/errors.js';
import type { ModuleRoutes } from '../../module.js';
import { type BuiltPortal, PORTAL_HTML_HEADERS } from '../portal.js';

/**
 * The portal's client routes: each answers the same HTML shell, and the page itself reads the path. A fixed
 * list rather than a catch-all, so an unknown URL stays the API's 404 and every page has its row below.
 * `/` is the start page's route (home-routes.ts), which answers the shell too when the portal is built.
 */
export const PORTAL_PAGES = [
  '/request',
  '/requests',
  '/approvals',
  '/grants',
  '/audit',
  '/factors',
  '/operations',
  '/breakglass',
  '/postmortems',
  '/sessions',
] as const;

/**
 * Public: the shell and its assets carry no data and grant nothing; every answer the pages show comes from the
 * API, under the caller's own session.
 */
export const PORTAL_ROUTE_ACCESS: ModuleRoutes['access'] = {
  'GET /assets/*': 'public',
  ...Object.fromEntries(PORTAL_PAGES.map((page) => [`GET ${page}`, 'public' as const])),
};

/** Sends the portal's shell with its policy (no inline script, nothing from another origin). */
export function sendPortalShell(reply: FastifyReply, portal: BuiltPortal): FastifyReply {
  return reply.headers(PORTAL_HTML_HEADERS).send(portal.index);
}

const page = (operationId: string, summary: string) => ({
  operationId,
  summary,
  tags: ['portal'],
  security: [],
  response: {
    200: { description: 'The portal (HTML)', content: { 'text/html': { schema: { type: 'string' } } } },
    303: { description: 'No portal is built here: to the start page at /', type: 'null' },
    400: { $ref: 'Error#' },
  },
});

const opName = (path: string) => `portal${path.slice(1, 2).toUpperCase()}${path.slice(2)}Page`;

/**
 * Serves the built portal: the shell at each client route and the hashed files under /assets/. Without a build
 * the routes still exist (the route table is the same everywhere) and send a browser to the start page.
 */
export function portalRoutes(portal: BuiltPortal | null) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    if (portal) {
      // Loaded only with a built portal to serve (@fastify/static brings glob, ~1 MB of heap).
      const { default: fastifyStatic } = await import('@fastify/static');
      // Only reply.sendFile: the one asset route below decides what may be sent.
      await app.register(fastifyStatic, {
        root: `${portal.dir}/assets`,
        serve: false,
        // Vite names files by their content hash: a name never changes meaning, so caches keep it for good.
        maxAge: '365d',
        immutable: true,
        // build:web writes .br and .gz beside each script and stylesheet.
        preCompressed: true,
        dotfiles: 'deny',
      });
    }

    for (const path of PORTAL_PAGES) {
      app.get(
        path,
        { config: { public: true }, schema: page(opName(path), `The portal's ${path.slice(1)} page`) },
        async (_request, reply) => (portal ? sendPortalShell(reply, portal) : reply.redirect('/', 303)),
      );
    }

    app.get(
      '/assets/*',
      {
        config: { public: true },
        // OpenAPI cannot express a wildcard path (as SCIM's catch-all): documented in docs/portal.md instead.
        schema: { hide: true },
      },
      async (request, reply) => {
        const name = (request.params as { '*': string })['*'];
        // A name the build wrote, or nothing: no path from the URL reaches the file system.
        if (!portal?.assets.has(name)) throw new StintError('NOT_FOUND', `no portal file ${name}`);
        return reply.header('x-content-type-options', 'nosniff').sendFile(name);
      },
    );
  };
}
