import type { AuditEventBody } from '../audit/audit-event.js';
import type { AuditEventView } from '../audit/audit-events.js';
import type { ResourceView, WhoAmIView } from '../catalog/catalog-types.js';
import type { RequestState } from '../domain/request.js';
import type { Report } from '../report/report-types.js';
import type { CredentialView, RequestScope, RequestView } from '../requests/request-types.js';
import type { HttpClient } from './http-client.js';

export type RequestAction = 'approve' | 'deny' | 'withdraw' | 'revoke';

/** The body of POST /v1/requests: the duration travels as text ("2h") and the server parses it again. */
export interface CreateRequestBody {
  resource: string;
  role: string;
  reason: string;
  duration?: string;
}

/** An audit event as listed; servers with the Merkle audit trail add the canonical body (null once purged). */
export type AuditEventWithBody = AuditEventView & { body?: AuditEventBody | null };

export interface AuditKeyView {
  origin: string;
  keys: { vkey: string }[];
}

export interface AuditCheckpointView {
  size: number;
  /** The signed checkpoint (C2SP signed-note). */
  note: string;
  createdAt: string;
  /** Witnesses that refused this checkpoint when the server submitted it (409: another size; 422: bad proof). */
  refusals?: { witness: string; status: number; witnessSize?: number }[];
}

/** Hashes are standard base64 throughout the audit routes. */
export interface AuditLeafView {
  seq: number;
  /** The exact canonical JSON that was hashed, or null once retention purged it. */
  body: string | null;
  leafHash: string;
  /** Leaf MACs (base64), checkable only with the signing key; null on leaves from before MACs. */
  mac?: string | null;
}

export interface AuditInclusionView {
  seq: number;
  size: number;
  leafHash: string;
  body: string | null;
  proof: string[];
  /** Null when no checkpoint of that size is stored (ask for one with POST /v1/audit/checkpoints). */
  checkpoint: string | null;
}

export interface AuditConsistencyView {
  old: number;
  new: number;
  proof: string[];
  oldCheckpoint: string | null;
  newCheckpoint: string | null;
}

/** The Stint HTTP API, one method per route; the only place in the CLI that knows paths. */
export interface StintApi {
  whoami(): Promise<WhoAmIView>;
  resources(): Promise<{ resources: ResourceView[] }>;
  /** `awaitIssuance`: answered once an automatic approval's credential is issued (Prefer: wait), not at commit. */
  createRequest(body: CreateRequestBody, awaitIssuance?: boolean): Promise<RequestView>;
  listRequests(q: { scope: RequestScope; state?: RequestState; limit?: number }): Promise<{
    requests: RequestView[];
  }>;
  getRequest(id: string): Promise<RequestView>;
  /** `awaitIssuance` (approve only): answered once the credential is issued (Prefer: wait), not at commit. */
  act(
    id: string,
    action: RequestAction,
    comment: string | undefined,
    awaitIssuance?: boolean,
  ): Promise<RequestView>;
  /** `input`: what the resource's kind takes at the take (a public key); absent, no body is sent. */
  takeCredential(id: string, input?: Record<string, unknown>): Promise<CredentialView>;
  audit(q: {
    requestId?: string;
    afterSeq?: number;
    limit?: number;
  }): Promise<{ events: AuditEventWithBody[] }>;
  auditKey(): Promise<AuditKeyView>;
  /** The newest signed checkpoint note, as text. */
  auditLatestCheckpoint(): Promise<string>;
  /** Newest first. */
  auditCheckpoints(limit: number): Promise<{ checkpoints: AuditCheckpointView[] }>;
  /** A signed checkpoint at a past size, made on demand when none is stored. */
  auditCheckpointAt(size: number): Promise<AuditCheckpointView>;
  auditLeaves(start: number, limit: number): Promise<{ leaves: AuditLeafView[]; macFrom?: number }>;
  /** The seqs [start, end) of the events whose time is in [since, until). */
  auditRange(since: string, until: string): Promise<{ start: number; end: number }>;
  /** `rootPlan(size)` hashes, left to right. */
  auditFrontier(size: number): Promise<{ size: number; hashes: string[] }>;
  auditInclusion(q: { event?: string; seq?: number; size?: number }): Promise<AuditInclusionView>;
  auditConsistency(oldSize: number, newSize: number): Promise<AuditConsistencyView>;
  /** The access report of a period (`period`, or `since` and `until`). */
  report(q: { period?: string; since?: string; until?: string }): Promise<Report>;
  /** The policy in force, its text and version: what an evidence pack records beside the versions it saw. */
  evidencePolicy(): Promise<{ version: string; sha256: string; source: string }>;
  /** A period's seqs [start, end), and the seqs an evidence pack's export of it must hold. */
  evidenceRange(q: { period?: string; since?: string; until?: string }): Promise<{
    start: number;
    end: number;
    exportStart: number;
    exportEnd: number;
  }>;
}

const requestPath = (id: string) => `/v1/requests/${encodeURIComponent(id)}`;

/**
 * Changes that may issue a credential can ask to be answered once it is issued (RFC 7240, src/http/prefer-wait.ts)
 * rather than poll for it: the grant is usable the moment the command returns. Below the call's 30 s timeout; a
 * slower issuance is still polled for (await-issuance.ts).
 */
const AWAIT_ISSUANCE = { prefer: 'wait=20' };

export function createStintApi(http: HttpClient): StintApi {
  return {
    whoami: () => http.get('/v1/whoami'),
    resources: () => http.get('/v1/resources'),
    createRequest: (body, awaitIssuance) =>
      http.change('/v1/requests', body, awaitIssuance ? AWAIT_ISSUANCE : undefined),
    listRequests: (q) => http.get('/v1/requests', { scope: q.scope, state: q.state, limit: q.limit }),
    getRequest: (id) => http.get(requestPath(id)),
    act: (id, action, comment, awaitIssuance) =>
      http.change(
        `${requestPath(id)}/${action}`,
        comment === undefined ? {} : { comment },
        action === 'approve' && awaitIssuance ? AWAIT_ISSUANCE : undefined,
      ),
    takeCredential: (id, input) => http.change(`${requestPath(id)}/credentials`, input),
    audit: (q) => http.get('/v1/audit/events', { request: q.requestId, after: q.afterSeq, limit: q.limit }),
    auditKey: () => http.get('/v1/audit/key'),
    auditLatestCheckpoint: () => http.getText('/audit/checkpoint'),
    auditCheckpoints: (limit) => http.get('/v1/audit/checkpoints', { limit }),
    auditCheckpointAt: (size) => http.post('/v1/audit/checkpoints', { size }),
    auditLeaves: (start, limit) => http.get('/v1/audit/leaves', { start, limit }),
    auditRange: (since, until) => http.get('/v1/audit/range', { since, until }),
    auditFrontier: (size) => http.get('/v1/audit/frontier', { size }),
    auditInclusion: (q) =>
      http.get('/v1/audit/proof/inclusion', { event: q.event, seq: q.seq, size: q.size }),
    auditConsistency: (oldSize, newSize) =>
      http.get('/v1/audit/proof/consistency', { old: oldSize, new: newSize }),
    report: (q) => http.get('/v1/report', { period: q.period, since: q.since, until: q.until }),
    evidencePolicy: () => http.get('/v1/evidence/policy'),
    evidenceRange: (q) =>
      http.get('/v1/evidence/range', { period: q.period, since: q.since, until: q.until }),
  };
}
