import { createRequestService, type RequestServiceDeps } from './request-service.js';

/**
 * The request workflow: create, review, withdraw, revoke and the one-time credential. Issuance and clean-up on
 * the target are the grants capability's, handed in as the narrow calls the service makes.
 */
export function createRequestsModule(deps: RequestServiceDeps) {
  return { service: createRequestService(deps) };
}

export type RequestsModule = ReturnType<typeof createRequestsModule>;
