import type { PolicySource } from '../policy/policy-source.js';
import { createCatalogService } from './catalog-service.js';

/** The resources one may ask for and the caller's own directory entry (GET /v1/resources, /v1/whoami). */
export function createCatalogModule(deps: { policy: PolicySource }) {
  return { service: createCatalogService(deps) };
}

export type CatalogModule = ReturnType<typeof createCatalogModule>;
