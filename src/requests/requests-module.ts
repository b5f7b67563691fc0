import type { StintModule } from '../module.js';
import { requestMetrics } from './request-metrics.js';
import { REQUEST_ROUTE_ACCESS, requestRoutes } from './request-routes.js';
import { createRequestService, type RequestServiceDeps } from './request-service.js';
import { createTimeOuts } from './time-outs.js';

/**
 * The request workflow: create, review, withdraw, revoke and the one-time credential, and the sweep that times
 * out what nobody decided. Issuance and clean-up on the target are the grants capability's, handed in as the
 * narrow calls the service makes.
 */
export function createRequestsModule(deps: RequestServiceDeps) {
  const service = createRequestService(deps);
  const timeOutPending = createTimeOuts(deps);
  const module: StintModule = {
    name: 'requests',
    sweeps: [{ name: 'requests.time-outs', run: timeOutPending }],
    routes: [{ plugin: requestRoutes(service), access: REQUEST_ROUTE_ACCESS }],
    metrics: requestMetrics(deps.store),
  };
  return { service, module };
}

export type RequestsModule = ReturnType<typeof createRequestsModule>;
