import type { StintModule } from '../module.js';
import { CONVERSION_ROUTE_ACCESS, conversionRoutes } from './conversion-routes.js';
import { type ConversionDeps, createConversionService } from './conversion-service.js';

/**
 * The standing-access inventory and its quarterly conversion to just-in-time entitlements (`GET /v1/inventory`,
 * `/v1/conversions`, `stint conversion …`): docs/operations.md.
 */
export function createConversionModule(deps: ConversionDeps) {
  const service = createConversionService(deps);
  const module: StintModule = {
    name: 'conversion',
    routes: [{ plugin: conversionRoutes(service), access: CONVERSION_ROUTE_ACCESS }],
  };
  return { service, module };
}

export type ConversionModule = ReturnType<typeof createConversionModule>;
