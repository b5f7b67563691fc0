import type { FastifyInstance } from 'fastify';
import type { CatalogService } from '../../catalog/catalog-service.js';
import { actorOf } from '../authenticate.js';
import { errorResponses, type SchemaTypes } from '../schemas.js';

export function directoryRoutes(service: CatalogService) {
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
