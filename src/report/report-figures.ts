import { formatDuration } from '../domain/duration.js';
import type { Period } from './period.js';
import type { ApprovalTimes, Report, ReportWarning } from './report-types.js';

/**
 * The healthy median approval time: slower pushes people to workarounds (shared accounts, standing access kept
 * "just in case"); faster means nobody looks.
 */
export const HEALTHY_MEDIAN_SECONDS = { min: 5 * 60, max: 15 * 60 } as const;
/** A reason (or an approver's comment) given verbatim this many times is a pasted one. */
export const REPEATED_AT = 3;

export interface ReportReview {
  reviewer: string;
  decision: string;
  comment: string;
  at: number;
}

/** A request made in the period, as the report reads it. */
export interface ReportRequest {
  id: string;
  requester: string;
  resource: string;
  reason: string;
  state: string;
  tiers: string[];
  /** Whether it had approval slots to fill: none means it was approved at creation (auto) or never needed one. */
  hasSlots: boolean;
  createdAt: number;
  approvedAt: number | null;
  reviews: ReportReview[];
}

/** An audit event found by its action; `details` and `resource` are null once retention purged its body. */
export interface ReportEvent {
  seq: number;
  at: number;
  action: string;
  resource: string | null;
  details: Record<string, unknown> | null;
}

export interface ReportInput {
  period: Period;
  now: Date;
  requests: readonly ReportRequest[];
  /** `breakglass.invoked` events recorded in the period. */
  breakglass: readonly ReportEvent[];
  /** `postmortem.*` events recorded before the period's end (a postmortem open at its start began earlier). */
  postmortems: readonly ReportEvent[];
  purged: Report['purged'];
}

/** Nearest rank: the smallest value with at least p% of the observations at or below it. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

function times(values: number[]): ApprovalTimes {
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, p50Seconds: percentile(sorted, 50), p90Seconds: percentile(sorted, 90) };
}

function grouped(pairs: Iterable<[string, number]>): Record<string, ApprovalTimes> {
  const by = new Map<string, number[]>();
  for (const [key, v] of pairs) by.set(key, [...(by.get(key) ?? []), v]);
  return Object.fromEntries([...by].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, times(v)]));
}

function counted(keys: Iterable<string>): Record<string, number> {
  const by = new Map<string, number>();
  for (const k of keys) by.set(k, (by.get(k) ?? 0) + 1);
  return Object.fromEntries([...by].sort(([a], [b]) => a.localeCompare(b)));
}

export const tierKey = (tiers: readonly string[]) => (tiers.length > 0 ? tiers.join('+') : 'none');

const seconds = (ms: number) => Math.round(ms) / 1000;

function medianWarnings(what: string, t: ApprovalTimes): ReportWarning[] {
  if (t.p50Seconds === null) return [];
  const median = formatDuration(Math.round(t.p50Seconds));
  const of = `${what} (${t.count} approval${t.count === 1 ? '' : 's'})`;
  if (t.p50Seconds > HEALTHY_MEDIAN_SECONDS.max) {
    return [
      {
        code: 'MEDIAN_TOO_SLOW',
        message: `median approval time ${median} of ${of} is above 15m: waits this long push people to workarounds`,
      },
    ];
  }
  if (t.p50Seconds < HEALTHY_MEDIAN_SECONDS.min) {
    return [
      {
        code: 'MEDIAN_TOO_FAST',
        message: `median approval time ${median} of ${of} is under 5m: approvals this fast suggest nobody looks`,
      },
    ];
  }
  return [];
}

/** Texts given verbatim at least REPEATED_AT times, most repeated first. */
function repeats(texts: Iterable<string>): { text: string; count: number }[] {
  const by = new Map<string, number>();
  for (const t of texts) if (t.trim() !== '') by.set(t, (by.get(t) ?? 0) + 1);
  return [...by]
    .filter(([, n]) => n >= REPEATED_AT)
    .map(([text, count]) => ({ text, count }))
    .sort((a, b) => b.count - a.count || a.text.localeCompare(b.text));
}

const inPeriod = (at: number, p: Period) => at >= p.since.getTime() && at < p.until.getTime();

function postmortems(events: readonly ReportEvent[], period: Period): Report['postmortems'] {
  const until = period.until.getTime();
  const opened = new Map<string, { due: number | null; overdue: boolean }>();
  const closed = new Set<string>();
  let openedInPeriod = 0;
  let closedInPeriod = 0;
  for (const e of [...events].sort((a, b) => a.seq - b.seq)) {
    if (e.at >= until) continue;
    const id = typeof e.details?.postmortemId === 'string' ? e.details.postmortemId : null;
    const due = typeof e.details?.due === 'string' ? Date.parse(e.details.due) : Number.NaN;
    if (e.action === 'postmortem.opened') {
      if (inPeriod(e.at, period)) openedInPeriod++;
      if (id) opened.set(id, { due: Number.isFinite(due) ? due : null, overdue: false });
    } else if (e.action === 'postmortem.closed') {
      if (inPeriod(e.at, period)) closedInPeriod++;
      if (id) closed.add(id);
    } else if (id && opened.has(id)) {
      const p = opened.get(id) as { due: number | null; overdue: boolean };
      if (e.action === 'postmortem.overdue') p.overdue = true;
      if (e.action === 'postmortem.updated' && Number.isFinite(due)) p.due = due;
    }
  }
  const open = [...opened].filter(([id]) => !closed.has(id));
  const overdue = open
    .filter(([, p]) => p.overdue || (p.due !== null && p.due <= until))
    .map(([id]) => id)
    .sort();
  return { openedInPeriod, closedInPeriod, openAtEnd: open.length, overdueAtEnd: overdue.length, overdue };
}

/** The report's figures from what the store holds for the period: a pure function, checked by hand in tests. */
export function computeReport(input: ReportInput): Report {
  const { period, requests } = input;
  const state = (s: string) => requests.filter((r) => r.state === s);
  const byPerson = requests.filter((r) => r.approvedAt !== null && r.hasSlots);
  const auto = requests.filter((r) => r.approvedAt !== null && !r.hasSlots && r.tiers.includes('auto'));
  const approvals = requests.flatMap((r) =>
    r.reviews.filter((v) => v.decision === 'approve').map((v) => ({ request: r, review: v })),
  );
  const denials = requests.flatMap((r) =>
    r.reviews.filter((v) => v.decision === 'deny').map((v) => ({ request: r, review: v })),
  );

  const approvalTime: Report['approvalTime'] = {
    overall: times(byPerson.map((r) => seconds((r.approvedAt as number) - r.createdAt))),
    byTier: grouped(byPerson.map((r) => [tierKey(r.tiers), seconds((r.approvedAt as number) - r.createdAt)])),
    byResource: grouped(byPerson.map((r) => [r.resource, seconds((r.approvedAt as number) - r.createdAt)])),
    byApprover: grouped(
      approvals.map(({ request, review }) => [review.reviewer, seconds(review.at - request.createdAt)]),
    ),
  };

  const reasons: Report['reasons'] = {
    missing: requests.filter((r) => r.reason.trim() === '').length,
    repeated: repeats(requests.map((r) => r.reason)),
    approvalsWithoutComment: approvals.filter(({ review }) => review.comment.trim() === '').length,
    repeatedComments: [...new Set(approvals.map(({ review }) => review.reviewer))]
      .sort()
      .flatMap((approver) =>
        repeats(
          approvals.filter(({ review }) => review.reviewer === approver).map(({ review }) => review.comment),
        ).map((r) => ({ approver, ...r })),
      ),
  };

  const warnings: ReportWarning[] = [
    ...medianWarnings('all requests', approvalTime.overall),
    ...Object.entries(approvalTime.byTier).flatMap(([tier, t]) => medianWarnings(`tier ${tier}`, t)),
    ...Object.entries(approvalTime.byApprover).flatMap(([who, t]) => medianWarnings(`approver ${who}`, t)),
  ];
  if (reasons.missing > 0) {
    warnings.push({
      code: 'REASONS_MISSING',
      message: `${reasons.missing} request(s) were made without a reason`,
    });
  }
  for (const r of reasons.repeated) {
    warnings.push({
      code: 'REASONS_REPEATED',
      message: `the reason ${JSON.stringify(r.text)} was given verbatim by ${r.count} requests: pasted reasons say nothing`,
    });
  }
  for (const r of reasons.repeatedComments) {
    warnings.push({
      code: 'REVIEW_COMMENTS_REPEATED',
      message: `${r.approver} approved ${r.count} requests with the same comment ${JSON.stringify(r.text)}: rubber-stamping?`,
    });
  }
  if (input.purged) {
    const p = input.purged;
    const parts = [
      ...(p.events > 0
        ? [
            `${p.events} audit event(s) of this period (seq ${p.firstSeq}..${p.lastSeq}) were purged by retention: ` +
              'break-glass uses are still counted by their action, but their resources are unknown',
          ]
        : []),
      ...(p.postmortemEvents > 0
        ? [
            `${p.postmortemEvents} postmortem event(s) up to the period's end were purged: the postmortems they name cannot be followed`,
          ]
        : []),
    ];
    warnings.push({ code: 'EVENTS_PURGED', message: parts.join('; ') });
  }

  const total = requests.length;
  return {
    period: { label: period.label, since: period.since.toISOString(), until: period.until.toISOString() },
    generatedAt: input.now.toISOString(),
    requests: {
      total,
      byResource: counted(requests.map((r) => r.resource)),
      byTier: counted(requests.map((r) => tierKey(r.tiers))),
      approved: byPerson.length,
      autoApproved: auto.length,
      autoApprovedShare: total === 0 ? null : auto.length / total,
      denied: state('denied').length,
      timedOut: state('timed_out').length,
      withdrawn: state('withdrawn').length,
      failed: state('failed').length,
      pending: state('pending').length,
    },
    approvalTime,
    denials: {
      byResource: counted(state('denied').map((r) => r.resource)),
      byApprover: counted(denials.map(({ review }) => review.reviewer)),
    },
    timeOuts: { byResource: counted(state('timed_out').map((r) => r.resource)) },
    breakglass: {
      uses: input.breakglass.length,
      byResource: counted(input.breakglass.map((e) => e.resource ?? '(purged)')),
    },
    postmortems: postmortems(input.postmortems, period),
    reasons,
    purged: input.purged,
    warnings,
  };
}
