import { formatDuration } from '../domain/duration.js';
import type { ApprovalTimes, Report } from './report-types.js';

export interface ReportTable {
  title: string;
  head: string[];
  rows: string[][];
}

/** What a person reads: headline figures, then tables, then the warnings. */
export interface ReportView {
  fields: [string, string][];
  tables: ReportTable[];
  warnings: string[];
}

const dur = (s: number | null) =>
  s === null ? '-' : s < 1 ? `${Math.round(s * 1000)}ms` : formatDuration(Math.round(s));
const share = (x: number | null) => (x === null ? '-' : `${Math.round(x * 1000) / 10}%`);

function timesRows(kind: string, by: Record<string, ApprovalTimes>): string[][] {
  return Object.entries(by).map(([k, t]) => [
    `${kind} ${k}`,
    String(t.count),
    dur(t.p50Seconds),
    dur(t.p90Seconds),
  ]);
}

export function reportView(r: Report): ReportView {
  const q = r.requests;
  const p = r.postmortems;
  const fields: [string, string][] = [
    ['period', `${r.period.label} (${r.period.since} .. ${r.period.until})`],
    ['requests', String(q.total)],
    ['approved by people', String(q.approved)],
    ['auto-approved', `${q.autoApproved} (${share(q.autoApprovedShare)})`],
    ['denied', String(q.denied)],
    ['timed out', String(q.timedOut)],
    ['withdrawn', String(q.withdrawn)],
    ['failed', String(q.failed)],
    ['still pending', String(q.pending)],
    ['break-glass uses', String(r.breakglass.uses)],
    [
      'postmortems',
      `${p.openedInPeriod} opened, ${p.closedInPeriod} closed in the period; ${p.openAtEnd} open at its end, ${p.overdueAtEnd} overdue`,
    ],
    [
      'reasons',
      `${r.reasons.missing} missing; approvals without comment: ${r.reasons.approvalsWithoutComment}`,
    ],
  ];
  if (r.purged) {
    fields.push([
      'purged events',
      r.purged.events > 0
        ? `${r.purged.events} (seq ${r.purged.firstSeq}..${r.purged.lastSeq})`
        : '0 in the period',
    ]);
  }
  const a = r.approvalTime;
  const tables: ReportTable[] = [
    {
      title: 'Approval time (request to approval; per approver, to their approval)',
      head: ['group', 'approvals', 'p50', 'p90'],
      rows: [
        ['all', String(a.overall.count), dur(a.overall.p50Seconds), dur(a.overall.p90Seconds)],
        ...timesRows('tier', a.byTier),
        ...timesRows('resource', a.byResource),
        ...timesRows('approver', a.byApprover),
      ],
    },
    {
      title: 'Requests by resource',
      head: ['resource', 'requests', 'denied', 'timed out', 'break-glass'],
      rows: [...new Set([...Object.keys(q.byResource), ...Object.keys(r.breakglass.byResource)])]
        .sort()
        .map((res) => [
          res,
          String(q.byResource[res] ?? 0),
          String(r.denials.byResource[res] ?? 0),
          String(r.timeOuts.byResource[res] ?? 0),
          String(r.breakglass.byResource[res] ?? 0),
        ]),
    },
    {
      title: 'Requests by tier',
      head: ['tier', 'requests'],
      rows: Object.entries(q.byTier).map(([t, n]) => [t, String(n)]),
    },
  ];
  if (Object.keys(r.denials.byApprover).length > 0) {
    tables.push({
      title: 'Denials by approver',
      head: ['approver', 'denials'],
      rows: Object.entries(r.denials.byApprover).map(([who, n]) => [who, String(n)]),
    });
  }
  return { fields, tables, warnings: r.warnings.map((w) => `${w.code}: ${w.message}`) };
}

/**
 * A spreadsheet cell: quoted when it holds a comma, quote or line break, and a text that a spreadsheet would run
 * as a formula (= + - @, tab, carriage return) prefixed with an apostrophe. Reasons are what users typed.
 */
export function csvCell(value: string | number | null): string {
  let text = value === null ? '' : String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * The report as CSV in long form, one figure a row (`section,dimension,key,metric,value`): it pivots in any
 * spreadsheet, and a new figure is a new row rather than a new column.
 */
export function reportCsv(r: Report): string {
  const rows: (string | number | null)[][] = [['section', 'dimension', 'key', 'metric', 'value']];
  const add = (
    section: string,
    dimension: string,
    key: string,
    metric: string,
    value: string | number | null,
  ) => rows.push([section, dimension, key, metric, value]);
  add('period', '', r.period.label, 'since', r.period.since);
  add('period', '', r.period.label, 'until', r.period.until);
  const q = r.requests;
  for (const metric of [
    'total',
    'approved',
    'autoApproved',
    'autoApprovedShare',
    'denied',
    'timedOut',
    'withdrawn',
    'failed',
    'pending',
  ] as const) {
    add('requests', '', '', metric, q[metric]);
  }
  for (const [k, n] of Object.entries(q.byResource)) add('requests', 'resource', k, 'total', n);
  for (const [k, n] of Object.entries(q.byTier)) add('requests', 'tier', k, 'total', n);
  const times = (dimension: string, key: string, t: ApprovalTimes) => {
    add('approval_time', dimension, key, 'count', t.count);
    add('approval_time', dimension, key, 'p50_seconds', t.p50Seconds);
    add('approval_time', dimension, key, 'p90_seconds', t.p90Seconds);
  };
  times('', 'all', r.approvalTime.overall);
  for (const [k, t] of Object.entries(r.approvalTime.byTier)) times('tier', k, t);
  for (const [k, t] of Object.entries(r.approvalTime.byResource)) times('resource', k, t);
  for (const [k, t] of Object.entries(r.approvalTime.byApprover)) times('approver', k, t);
  for (const [k, n] of Object.entries(r.denials.byResource)) add('denials', 'resource', k, 'count', n);
  for (const [k, n] of Object.entries(r.denials.byApprover)) add('denials', 'approver', k, 'count', n);
  for (const [k, n] of Object.entries(r.timeOuts.byResource)) add('time_outs', 'resource', k, 'count', n);
  add('breakglass', '', '', 'uses', r.breakglass.uses);
  for (const [k, n] of Object.entries(r.breakglass.byResource)) add('breakglass', 'resource', k, 'uses', n);
  const p = r.postmortems;
  for (const metric of ['openedInPeriod', 'closedInPeriod', 'openAtEnd', 'overdueAtEnd'] as const) {
    add('postmortems', '', '', metric, p[metric]);
  }
  for (const id of p.overdue) add('postmortems', 'overdue', id, 'overdue', 1);
  add('reasons', '', '', 'missing', r.reasons.missing);
  add('reasons', '', '', 'approvalsWithoutComment', r.reasons.approvalsWithoutComment);
  for (const x of r.reasons.repeated) add('reasons', 'repeated', x.text, 'count', x.count);
  for (const x of r.reasons.repeatedComments)
    add('reasons', `repeated_comment:${x.approver}`, x.text, 'count', x.count);
  if (r.purged) {
    add('purged', '', '', 'events', r.purged.events);
    add('purged', '', '', 'firstSeq', r.purged.firstSeq);
    add('purged', '', '', 'lastSeq', r.purged.lastSeq);
    add('purged', '', '', 'postmortemEvents', r.purged.postmortemEvents);
  }
  for (const w of r.warnings) add('warning', '', w.code, 'message', w.message);
  return `${rows.map((row) => row.map(csvCell).join(',')).join('\r\n')}\r\n`;
}
