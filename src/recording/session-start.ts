import type { AuditWriter } from '../audit/audit-writer.js';
import type { AccessRequest } from '../domain/request.js';
import type { Sensitivity } from '../policy/policy-types.js';
import { recordingStore } from './recording-store.js';
import { asStoreTx, type RecordingDb } from './recording-tables.js';
import { drawSession, mandatoryReasons, type SamplingConfig } from './session-review/sampling.js';

const DAY_MS = 86_400_000;

export interface SessionStart {
  id: string;
  request: AccessRequest;
  resource: { id: string; sensitivity: Sensitivity };
  protocol: 'ssh' | 'postgres';
  /** The account or role on the target. */
  account: string;
  client: string | null;
  server: string;
  now: Date;
  /** Added to `session.started` (certificate serials, database…). */
  details: Record<string, unknown>;
}

/**
 * A proxied session's start, its review draw and their audit events in one transaction: no session runs unlisted
 * or undrawn, whichever proxy carries it.
 */
export async function recordSessionStart(
  deps: { db: RecordingDb; audit: AuditWriter; sampling: SamplingConfig },
  s: SessionStart,
): Promise<void> {
  const { request, resource, now } = s;
  await deps.db.transaction().execute(async (trx) => {
    await recordingStore.insertSession(trx, {
      id: s.id,
      request_id: request.id,
      requester: request.requester,
      resource: resource.id,
      role: request.role,
      sensitivity: resource.sensitivity,
      protocol: s.protocol,
      account: s.account,
      client: s.client,
      server: s.server,
      started_at: now.getTime(),
      ended_at: null,
      end_reason: null,
      heartbeat_at: now.getTime(),
    });
    const mandatory = await mandatoryReasons(trx, request, resource.sensitivity, deps.sampling);
    const draw = await drawSession(trx, s.id, mandatory, deps.sampling);
    if (draw.selected) {
      await trx
        .insertInto('session_reviews')
        .values({
          session_id: s.id,
          request_id: request.id,
          requester: request.requester,
          resource: resource.id,
          reasons: JSON.stringify(draw.reasons),
          draw: String(draw.draw),
          rate: String(draw.rate),
          state: 'queued',
          created_at: now.getTime(),
          due_at: now.getTime() + deps.sampling.dueDays * DAY_MS,
          verdict: null,
          notes: null,
          reviewer: null,
          completed_at: null,
        })
        .execute();
    }
    await deps.audit.append(asStoreTx(trx), [
      {
        at: now,
        actor: request.requester,
        action: 'session.started',
        requestId: request.id,
        target: { resource: resource.id, role: request.role },
        details: {
          sessionId: s.id,
          protocol: s.protocol,
          account: s.account,
          client: s.client,
          server: s.server,
          ...s.details,
        },
      },
      {
        at: now,
        actor: 'stint',
        action: 'session_review.drawn',
        requestId: request.id,
        target: { resource: resource.id },
        details: {
          sessionId: s.id,
          draw: draw.draw,
          rate: draw.rate,
          seedId: draw.seedId,
          reasons: draw.reasons,
          selected: draw.selected,
        },
      },
    ]);
  });
}

/** A proxied session's end and its audit event; false when another writer ended it first. */
export async function recordSessionEnd(
  deps: { db: RecordingDb; audit: AuditWriter },
  s: { id: string; requestId: string; resource: string; reason: string; at: Date; startedAt: Date },
): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    if (!(await recordingStore.endSession(trx, s.id, s.at.getTime(), s.reason))) return;
    await deps.audit.append(asStoreTx(trx), {
      at: s.at,
      actor: 'stint',
      action: 'session.ended',
      requestId: s.requestId,
      target: { resource: s.resource },
      details: { sessionId: s.id, reason: s.reason, durationMs: s.at.getTime() - s.startedAt.getTime() },
    });
  });
}
