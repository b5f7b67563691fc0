import type { StintModule } from '../module.js';
import type { PolicySource } from '../policy/policy-source.js';
import { CATALOG_ROUTE_ACCESS, catalogRoutes } from './catalog-routes.js';
import { createCatalogService } from './catalog-service.js';

/** The resources one may ask for and the caller's own directory entry (GET /v1/resources, /v1/whoami). */
export function createCatalogModule(deps: { policy: PolicySource }) {
  const service = createCatalogService(deps);
  const module: StintModule = {
    name: 'catalog',
    routes: [{ plugin: catalogRoutes(service), access: CATALOG_ROUTE_ACCESS }],
  };
  return { service, module };
}

export type CatalogModule = ReturnType<typeof createCatalogModule>;
