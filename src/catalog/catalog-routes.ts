import type { FastifyInstance } from 'fastify';
import { actorOf } from '../http/request-context.js';
import { errorResponses, type SchemaTypes } from '../http/schemas.js';
import type { ModuleRoutes } from '../module.js';
import type { CatalogService } from './catalog-service.js';

export function catalogRoutes(service: CatalogService) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const api = app.withTypeProvider<SchemaTypes>();
    api.get(
      '/v1/whoami',
      {
        schema: {
          operationId: 'whoami',
          summary: 'Who the token belongs to',
          tags: ['directory'],
          response: { 200: { $ref: 'WhoAmI#' }, ...errorResponses },
        },
      },
      async (request) => service.whoami(actorOf(request)),
    );

    api.get(
      '/v1/resources',
      {
        schema: {
          operationId: 'listResources',
          summary: 'Resources and the roles one may ask for',
          tags: ['directory'],
          response: {
            200: {
              type: 'object',
              required: ['resources'],
              properties: { resources: { type: 'array', items: { $ref: 'Resource#' } } },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => ({ resources: await service.resources(actorOf(request)) }),
    );
  };
}

/** Who may call the catalog's routes (the route-access table's rows for them). */
export const CATALOG_ROUTE_ACCESS: ModuleRoutes['access'] = {
  'GET /v1/whoami': 'any',
  'GET /v1/resources': 'requests:read',
};
