import type { RequestState } from '../domain/request.js';
import type {
  AuditEventView,
  CredentialView,
  RequestScope,
  RequestView,
  ResourceView,
  WhoAmIView,
} from '../requests/request-types.js';
import type { HttpClient } from './http-client.js';

export type RequestAction = 'approve' | 'deny' | 'withdraw' | 'revoke';

/** The body of POST /v1/requests: the duration travels as text ("2h") and the server parses it again. */
export interface CreateRequestBody {
  resource: string;
  role: string;
  reason: string;
  duration?: string;
}

/** The Stint HTTP API, one method per route; the only place in the CLI that knows paths. */
export interface StintApi {
  whoami(): Promise<WhoAmIView>;
  resources(): Promise<{ resources: ResourceView[] }>;
  createRequest(body: CreateRequestBody): Promise<RequestView>;
  listRequests(q: { scope: RequestScope; state?: RequestState; limit?: number }): Promise<{
    requests: RequestView[];
  }>;
  getRequest(id: string): Promise<RequestView>;
  act(id: string, action: RequestAction, comment: string | undefined): Promise<RequestView>;
  takeCredential(id: string): Promise<CredentialView>;
  audit(q: { requestId?: string; afterSeq?: number; limit?: number }): Promise<{ events: AuditEventView[] }>;
}

const requestPath = (id: string) => `/v1/requests/${encodeURIComponent(id)}`;

export function createStintApi(http: HttpClient): StintApi {
  return {
    whoami: () => http.get('/v1/whoami'),
    resources: () => http.get('/v1/resources'),
    createRequest: (body) => http.post('/v1/requests', body),
    listRequests: (q) => http.get('/v1/requests', { scope: q.scope, state: q.state, limit: q.limit }),
    getRequest: (id) => http.get(requestPath(id)),
    act: (id, action, comment) =>
      http.post(`${requestPath(id)}/${action}`, comment === undefined ? {} : { comment }),
    takeCredential: (id) => http.post(`${requestPath(id)}/credentials`),
    audit: (q) => http.get('/v1/audit/events', { request: q.requestId, after: q.afterSeq, limit: q.limit }),
  };
}
