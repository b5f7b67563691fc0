import type {
  RecordedSessionsTable,
  RecordingSegmentsTable,
  RecordingsTable,
  SessionReviewsTable,
} from '../recording-tables.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

export const VERDICTS = ['ok', 'concern', 'incident'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** A queued review as of `now`: `overdue` once its due date has passed without a verdict. */
export function reviewView(r: SessionReviewsTable, now: number) {
  return {
    sessionId: r.session_id,
    requestId: r.request_id,
    requester: r.requester,
    resource: r.resource,
    reasons: JSON.parse(r.reasons) as string[],
    draw: Number(r.draw),
    rate: Number(r.rate),
    state: r.state as 'queued' | 'completed',
    createdAt: iso(r.created_at) as string,
    dueAt: iso(r.due_at) as string,
    verdict: r.verdict as Verdict | null,
    notes: r.notes,
    reviewer: r.reviewer,
    completedAt: iso(r.completed_at),
    claimedBy: r.claimed_by ?? null,
    claimedAt: iso(r.claimed_at ?? null),
    overdue: r.state === 'queued' && Number(r.due_at) <= now,
  };
}

export function sessionView(s: RecordedSessionsTable) {
  return {
    id: s.id,
    requestId: s.request_id,
    requester: s.requester,
    resource: s.resource,
    role: s.role,
    sensitivity: s.sensitivity,
    protocol: s.protocol,
    account: s.account,
    client: s.client,
    server: s.server,
    startedAt: iso(s.started_at) as string,
    endedAt: iso(s.ended_at),
    endReason: s.end_reason,
  };
}

export function recordingView(r: RecordingsTable, segments: RecordingSegmentsTable[]) {
  return {
    id: r.id,
    channel: r.channel,
    type: r.type,
    command: r.command,
    storage: r.storage,
    state: r.state,
    startedAt: iso(r.started_at) as string,
    endedAt: iso(r.ended_at),
    segments: segments.map((g) => ({
      index: g.idx,
      state: g.state,
      sha256: g.sha256,
      bytes: g.bytes === null ? null : Number(g.bytes),
      recovered: g.recovered === 1,
    })),
  };
}

export type ReviewView = ReturnType<typeof reviewView>;
export type SessionView = ReturnType<typeof sessionView>;
export type RecordingView = ReturnType<typeof recordingView>;
