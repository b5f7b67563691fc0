import type { AuditEventBody } from '../audit/audit-event.js';
import type { ActionCount, EventSummary } from './evidence-format.js';
import { createRecordingSection, isRecordingEvent, type SessionEntry } from './recording-section.js';

/** One event as the pack states it: where it is in the log, when, who, what, on which request and target. */
export interface EventRef {
  seq: number;
  time: string;
  actor: string;
  action: string;
  requestId: string | null;
  target: AuditEventBody['target'];
  reason: string | null;
  details: Record<string, unknown>;
}

interface Stamp {
  seq: number;
  time: string;
}

/** Who had what, when, why, approved by whom: one request as its events in the period tell it. */
export interface AccessRecord {
  requestId: string;
  requester: string | null;
  resource: string | null;
  role: string | null;
  reason: string | null;
  durationSeconds: number | null;
  tiers: string[] | null;
  ruleId: string | null;
  policyVersion: string | null;
  /** Null when the request was made before the period (its request.created is in an earlier export). */
  requested: Stamp | null;
  reviews: (Stamp & { reviewer: string; decision: 'approve' | 'deny'; comment: string })[];
  /** `by`: the approvers, or the tier that approved it alone (`auto` at creation, `breakglass`). */
  approved: (Stamp & { by: string[] | string }) | null;
  activated: (Stamp & { expiresAt: string | null }) | null;
  credentialTaken: Stamp | null;
  ended:
    | (Stamp & {
        how: 'denied' | 'withdrawn' | 'timed_out' | 'failed' | 'expired' | 'revoked' | 'vanished';
        by: string;
        comment: string | null;
      })
    | null;
  /** The clean-up on the target: completed, failed (retried), deferred, abandoned … */
  revocation: (Stamp & { outcome: string })[];
  /** Every event of this request in the period, in log order. */
  seqs: number[];
}

const ENDINGS: Record<string, NonNullable<AccessRecord['ended']>['how']> = {
  'request.denied': 'denied',
  'request.withdrawn': 'withdrawn',
  'request.timed_out': 'timed_out',
  'request.failed': 'failed',
  'grant.expired': 'expired',
  'grant.revoked': 'revoked',
  'grant.vanished': 'vanished',
};

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function blank(requestId: string): AccessRecord {
  return {
    requestId,
    requester: null,
    resource: null,
    role: null,
    reason: null,
    durationSeconds: null,
    tiers: null,
    ruleId: null,
    policyVersion: null,
    requested: null,
    reviews: [],
    approved: null,
    activated: null,
    credentialTaken: null,
    ended: null,
    revocation: [],
    seqs: [],
  };
}

function applyToAccess(r: AccessRecord, e: AuditEventBody): void {
  const stamp = { seq: e.seq, time: e.time };
  const d = e.details ?? {};
  r.seqs.push(e.seq);
  r.resource ??= str(e.target?.resource) ?? str(d.resource);
  r.role ??= str(e.target?.role) ?? str(d.role);
  switch (e.action) {
    case 'request.created':
      r.requested = stamp;
      r.requester = e.actor;
      r.resource = str(d.resource) ?? r.resource;
      r.role = str(d.role) ?? r.role;
      r.reason = str(d.reason) ?? e.reason;
      r.durationSeconds = typeof d.durationSeconds === 'number' ? d.durationSeconds : null;
      r.tiers = Array.isArray(d.tiers) ? d.tiers.map(String) : null;
      r.ruleId = str(d.ruleId);
      r.policyVersion = str(d.policyVersion);
      return;
    case 'request.reviewed':
      r.reviews.push({ ...stamp, reviewer: e.actor, decision: 'approve', comment: str(d.comment) ?? '' });
      return;
    case 'request.approved':
      // Approved by its tier alone, nobody reviewing: `auto` at creation, `breakglass` in an emergency.
      if (!Array.isArray(d.approvers) && typeof d.tier === 'string') {
        r.approved = { ...stamp, by: d.tier };
        return;
      }
      r.reviews.push({ ...stamp, reviewer: e.actor, decision: 'approve', comment: str(d.comment) ?? '' });
      r.approved = { ...stamp, by: Array.isArray(d.approvers) ? d.approvers.map(String) : [e.actor] };
      return;
    case 'grant.activated':
      r.activated = { ...stamp, expiresAt: str(d.expiresAt) };
      return;
    case 'credential.shown':
      r.credentialTaken = stamp;
      return;
  }
  const how = ENDINGS[e.action];
  if (how) {
    if (how === 'denied') {
      r.reviews.push({ ...stamp, reviewer: e.actor, decision: 'deny', comment: str(d.comment) ?? '' });
    }
    r.ended = { ...stamp, how, by: e.actor, comment: str(d.comment) ?? str(d.reason) };
    return;
  }
  if (e.action.startsWith('grant.revocation_')) {
    r.revocation.push({ ...stamp, outcome: e.action.slice('grant.revocation_'.length) });
  }
}

const refOf = (e: AuditEventBody): EventRef => ({
  seq: e.seq,
  time: e.time,
  actor: e.actor,
  action: e.action,
  requestId: e.requestId,
  target: e.target,
  reason: e.reason,
  details: e.details,
});

/** The sections of a pack, built from the period's events in log order (export and verify run the same code). */
export interface Sections {
  summary: EventSummary;
  access: string;
  breakglass: string;
  recordings: string;
  /** The sessions of recordings.json, parsed: what cast files in the pack are checked against. */
  sessions: SessionEntry[];
  /** Policy versions requests of the period recorded, with how many and where. */
  policyVersions: { version: string; requests: number; firstSeq: number; lastSeq: number }[];
  /** The seqs of the period's break-glass uses: each gets an inclusion proof of its own. */
  useSeqs: number[];
}

/**
 * Reads the period's events one by one (seqs [start, end), in order, bodies as exported: null once purged) and
 * builds every section the pack derives from them. Memory is one record per request of the period.
 */
export function createSectionBuilder(
  period: { since: Date; until: Date },
  range: { start: number; end: number },
) {
  const access = new Map<string, AccessRecord>();
  const byAction = new Map<string, ActionCount>();
  const purged: [number, number][] = [];
  const breakglass = {
    uses: [] as EventRef[],
    events: [] as EventRef[],
    postmortems: [] as EventRef[],
    drills: [] as EventRef[],
  };
  const versions = new Map<
    string,
    { version: string; requests: number; firstSeq: number; lastSeq: number }
  >();
  const recordings = createRecordingSection();
  let count = 0;
  let firstSeq: number | null = null;
  let lastSeq: number | null = null;
  let stampedOutside = 0;
  let expected = range.start;

  return {
    /** One event; throws if it is not the next seq of the period (the export is read in order). */
    add(seq: number, body: string | null): void {
      if (seq < range.start || seq >= range.end) return;
      if (seq !== expected) throw new Error(`event ${expected} was due, got ${seq}`);
      expected++;
      count++;
      firstSeq ??= seq;
      lastSeq = seq;
      if (body === null) {
        const last = purged.at(-1);
        if (last && last[1] === seq - 1) last[1] = seq;
        else purged.push([seq, seq]);
        return;
      }
      const e = JSON.parse(body) as AuditEventBody;
      const at = Date.parse(e.time);
      if (!(at >= period.since.getTime() && at < period.until.getTime())) stampedOutside++;
      const c = byAction.get(e.action);
      if (c) {
        c.count++;
        c.lastSeq = seq;
      } else byAction.set(e.action, { count: 1, firstSeq: seq, lastSeq: seq });
      if (
        e.requestId &&
        (e.action.startsWith('request.') || e.action.startsWith('grant.') || e.action === 'credential.shown')
      ) {
        let r = access.get(e.requestId);
        if (!r) {
          r = blank(e.requestId);
          access.set(e.requestId, r);
        }
        applyToAccess(r, e);
      }
      if (e.action === 'request.created') {
        const v = str(e.details?.policyVersion);
        if (v) {
          const have = versions.get(v);
          if (have) {
            have.requests++;
            have.lastSeq = seq;
          } else versions.set(v, { version: v, requests: 1, firstSeq: seq, lastSeq: seq });
        }
      }
      if (isRecordingEvent(e)) recordings.add(e);
      if (e.action === 'breakglass.invoked') breakglass.uses.push(refOf(e));
      if (e.action.startsWith('breakglass.')) breakglass.events.push(refOf(e));
      else if (e.action.startsWith('postmortem.')) breakglass.postmortems.push(refOf(e));
      else if (e.action.startsWith('drill.')) breakglass.drills.push(refOf(e));
    },

    finish(): Sections {
      if (expected !== range.end) throw new Error(`the period's events end at ${expected}, not ${range.end}`);
      const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
      const sortedActions = [...byAction].sort(([a], [b]) => a.localeCompare(b));
      const recorded = recordings.finish();
      return {
        summary: {
          start: range.start,
          end: range.end,
          count,
          firstSeq,
          lastSeq,
          byAction: Object.fromEntries(sortedActions),
          purged:
            purged.length === 0
              ? null
              : { count: purged.reduce((n, [a, b]) => n + b - a + 1, 0), ranges: purged },
          stampedOutside,
        },
        // In the order each request first appears in the period.
        access: [...access.values()].map((r) => `${JSON.stringify(r)}\n`).join(''),
        breakglass: json({
          note:
            'Break-glass events by name: uses (breakglass.invoked), every breakglass.* event, postmortems ' +
            '(postmortem.*) and drills (drill.*) recorded in the period.',
          uses: breakglass.uses,
          events: breakglass.events,
          postmortems: breakglass.postmortems,
          drills: breakglass.drills,
        }),
        recordings: recorded.json,
        sessions: recorded.sessions,
        policyVersions: [...versions.values()],
        useSeqs: breakglass.uses.map((u) => u.seq),
      };
    },
  };
}
