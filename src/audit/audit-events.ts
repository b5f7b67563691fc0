import { authorize, can } from '../auth/authorize.js';
import { StintError } from '../domain/errors.js';
import type { StintDatabase } from '../store/database.js';
import type { RequestStore } from '../store/request-store.js';
import type { AuditEventBody } from './audit-event.js';
import { listAudit } from './audit-store.js';

/** Whoever authorize() judges; named here so the audit log need not know the request workflow's types. */
type Actor = Parameters<typeof can>[0];

export interface AuditEventView {
  seq: number;
  id: string;
  at: string;
  actor: string;
  action: string;
  requestId: string | null;
  details: Record<string, unknown>;
  /** The canonical event exactly as hashed into the audit log (null once retention purged it). */
  body: AuditEventBody | null;
}

export interface AuditEventsQuery {
  requestId?: string;
  afterSeq?: number;
  limit?: number;
}

/** The audit events as people read them (GET /v1/audit/events): everything, or what they may see of it. */
export interface AuditEvents {
  list(actor: Actor, input: AuditEventsQuery): Promise<AuditEventView[]>;
}

export function createAuditEvents(deps: {
  store: StintDatabase;
  requests: Pick<RequestStore, 'get'>;
}): AuditEvents {
  const db = deps.store.db;
  return {
    async list(actor, input) {
      const limit = Math.min(input.limit ?? 200, 1000);
      const all = can(actor, 'audit.read-all');
      if (input.requestId && !all) {
        const request = await deps.requests.get(db, input.requestId);
        if (!request) throw new StintError('REQUEST_NOT_FOUND', `request ${input.requestId} not found`);
        authorize(actor, 'request.read', request);
      }
      const events = await listAudit(db, {
        limit,
        ...(input.requestId ? { requestId: input.requestId } : {}),
        ...(input.afterSeq !== undefined ? { afterSeq: input.afterSeq } : {}),
        // Someone who may read a request may read its whole history; otherwise only their own.
        ...(all || input.requestId ? {} : { visibleTo: actor.userId }),
      });
      return events.map((e) => ({ ...e, at: e.at.toISOString() }));
    },
  };
}
