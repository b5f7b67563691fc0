import type { AuditEventBody } from '../audit/audit-event.js';

interface Stamp {
  seq: number;
  time: string;
}

/** One sealed segment as its `recording.segment` event states it: the hash the bytes must have. */
export interface SegmentEntry extends Stamp {
  segment: number;
  sha256: string;
  bytes: number;
  final: boolean;
  recovered: boolean;
  storage: string | null;
}

export interface RecordingEntry {
  recordingId: string;
  channel: number | null;
  type: string | null;
  command: string | null;
  segments: SegmentEntry[];
}

/** One session through Stint's proxy as the period's events tell it: who, where, what was recorded, its review. */
export interface SessionEntry {
  sessionId: string;
  requestId: string | null;
  requester: string | null;
  resource: string | null;
  role: string | null;
  account: string | null;
  client: string | null;
  /** Null when the session started before the period. */
  started: Stamp | null;
  ended: (Stamp & { reason: string | null }) | null;
  recordings: RecordingEntry[];
  /** Recordings that could not be written (`recording.failed`): the session was ended, or went on unrecorded. */
  failures: (Stamp & { recordingId: string | null; reason: string | null; continued: boolean })[];
  /** How many file operations (SFTP) and forwards were audited, by action. */
  activity: Record<string, number>;
  review: {
    drawn:
      | (Stamp & { selected: boolean; reasons: string[]; draw: number | null; rate: number | null })
      | null;
    claims: (Stamp & { action: 'claimed' | 'released'; by: string; claimant: string })[];
    reminders: (Stamp & { kind: 'due_soon' | 'overdue' })[];
    verdict: (Stamp & { reviewer: string; verdict: string; notes: string }) | null;
  };
  seqs: number[];
}

export const RECORDINGS_NOTE =
  'Sessions through Stint’s proxies with events in the period, from those events alone: each recording’s sealed ' +
  'segments with the SHA-256 and size their recording.segment event holds (the bytes, when the pack carries ' +
  'them under recordings/, are checked against exactly these by `stint evidence verify`), failures to record, ' +
  'and the session review: the draw, claims, reminders and verdict. Refused logins are listed apart.';

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function blank(sessionId: string): SessionEntry {
  return {
    sessionId,
    requestId: null,
    requester: null,
    resource: null,
    role: null,
    account: null,
    client: null,
    started: null,
    ended: null,
    recordings: [],
    failures: [],
    activity: {},
    review: { drawn: null, claims: [], reminders: [], verdict: null },
    seqs: [],
  };
}

/** Whether an event belongs to the recordings section (the session events carry `details.sessionId`). */
export function isRecordingEvent(e: AuditEventBody): boolean {
  return (
    e.action.startsWith('session.') ||
    e.action.startsWith('recording.') ||
    e.action.startsWith('session_review.')
  );
}

/** Builds recordings.json from the period's events in log order (export and verify run the same code). */
export function createRecordingSection() {
  const sessions = new Map<string, SessionEntry>();
  const refused: (Stamp & { actor: string; requestId: string | null; details: Record<string, unknown> })[] =
    [];

  function recordingOf(s: SessionEntry, recordingId: string): RecordingEntry {
    let r = s.recordings.find((x) => x.recordingId === recordingId);
    if (!r) {
      r = { recordingId, channel: null, type: null, command: null, segments: [] };
      s.recordings.push(r);
    }
    return r;
  }

  return {
    add(e: AuditEventBody): void {
      const stamp = { seq: e.seq, time: e.time };
      const d = e.details ?? {};
      if (e.action === 'session.refused') {
        refused.push({ ...stamp, actor: e.actor, requestId: e.requestId, details: d });
        return;
      }
      const sessionId = str(d.sessionId);
      if (!sessionId) return;
      let s = sessions.get(sessionId);
      if (!s) {
        s = blank(sessionId);
        sessions.set(sessionId, s);
      }
      s.seqs.push(e.seq);
      s.requestId ??= e.requestId;
      s.resource ??= str(e.target?.resource);
      switch (e.action) {
        case 'session.started':
          s.started = stamp;
          s.requester = e.actor;
          s.role = str(e.target?.role);
          s.account = str(d.account);
          s.client = str(d.client);
          return;
        case 'session.ended':
          s.ended = { ...stamp, reason: str(d.reason) };
          return;
        case 'session.channel': {
          const id = str(d.recordingId);
          if (!id) return;
          const r = recordingOf(s, id);
          r.channel = num(d.channel);
          r.type = str(d.type);
          r.command = str(d.command);
          return;
        }
        case 'recording.segment': {
          const id = str(d.recordingId);
          const segment = num(d.segment);
          if (!id || segment === null) return;
          recordingOf(s, id).segments.push({
            ...stamp,
            segment,
            sha256: String(d.sha256),
            bytes: num(d.bytes) ?? 0,
            final: d.final === true,
            recovered: d.recovered === true,
            storage: str(d.storage),
          });
          return;
        }
        case 'recording.failed':
          s.failures.push({
            ...stamp,
            recordingId: str(d.recordingId),
            reason: str(d.reason),
            continued: d.continued === true,
          });
          return;
        case 'session_review.drawn':
          s.review.drawn = {
            ...stamp,
            selected: d.selected === true,
            reasons: Array.isArray(d.reasons) ? d.reasons.map(String) : [],
            draw: num(d.draw),
            rate: num(d.rate),
          };
          return;
        case 'session_review.claimed':
        case 'session_review.released':
          s.review.claims.push({
            ...stamp,
            action: e.action === 'session_review.claimed' ? 'claimed' : 'released',
            by: e.actor,
            claimant: str(d.claimant) ?? e.actor,
          });
          return;
        case 'session_review.due_soon':
        case 'session_review.overdue':
          s.review.reminders.push({
            ...stamp,
            kind: e.action === 'session_review.due_soon' ? 'due_soon' : 'overdue',
          });
          return;
        case 'session_review.completed':
          s.review.verdict = {
            ...stamp,
            reviewer: e.actor,
            verdict: String(d.verdict),
            notes: str(d.notes) ?? '',
          };
          return;
        default:
          s.activity[e.action] = (s.activity[e.action] ?? 0) + 1;
      }
    },

    finish(): { json: string; sessions: SessionEntry[] } {
      const list = [...sessions.values()];
      const json = `${JSON.stringify({ note: RECORDINGS_NOTE, sessions: list, refused }, null, 2)}\n`;
      return { json, sessions: list };
    },
  };
}

/** The pack's file for one sealed segment's bytes (with `--with-recordings`). */
export const castFileName = (recordingId: string, segment: number) =>
  `recordings/${recordingId}/${String(segment).padStart(6, '0')}.cast`;
export const CAST_FILE = /^recordings\/(rec_[A-Za-z0-9_-]{8,64})\/(\d{6})\.cast$/;
