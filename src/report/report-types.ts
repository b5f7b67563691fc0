import type { Actor } from '../domain/actor.js';
import type { Period } from './period.js';

/**
 * The access report (`stint report`, `GET /v1/report`): how elevation was asked for and given over a period.
 * Requests are those made in the period, their outcomes as they stand when the report is made; events (break-glass
 * uses, postmortems) are those recorded in the period. Times are seconds.
 */

/** Approval times of a group: how many, the median and the 90th percentile (nearest rank). */
export interface ApprovalTimes {
  count: number;
  p50Seconds: number | null;
  p90Seconds: number | null;
}

export interface ReportWarning {
  code:
    | 'MEDIAN_TOO_SLOW'
    | 'MEDIAN_TOO_FAST'
    | 'REASONS_MISSING'
    | 'REASONS_REPEATED'
    | 'REVIEW_COMMENTS_REPEATED'
    | 'EVENTS_PURGED';
  message: string;
}

export interface Report {
  period: { label: string; since: string; until: string };
  generatedAt: string;
  requests: {
    total: number;
    byResource: Record<string, number>;
    /** A request's tiers joined with `+` (`manager+two-person`). */
    byTier: Record<string, number>;
    /** Approved by people (its slots filled). */
    approved: number;
    /** Approved at creation: the rule's only tier is `auto`. */
    autoApproved: number;
    /** autoApproved / total; null when no request was made. */
    autoApprovedShare: number | null;
    denied: number;
    timedOut: number;
    withdrawn: number;
    failed: number;
    /** Still waiting for approvers now. */
    pending: number;
  };
  /** approved_at − created_at of the requests people approved; per approver, each approval's own time. */
  approvalTime: {
    overall: ApprovalTimes;
    byTier: Record<string, ApprovalTimes>;
    byResource: Record<string, ApprovalTimes>;
    byApprover: Record<string, ApprovalTimes>;
  };
  denials: { byResource: Record<string, number>; byApprover: Record<string, number> };
  timeOuts: { byResource: Record<string, number> };
  /** `breakglass.invoked` events in the period (counted by action, so a purged one still counts). */
  breakglass: { uses: number; byResource: Record<string, number> };
  /** From `postmortem.opened` / `postmortem.closed` / `postmortem.overdue` events up to the period's end. */
  postmortems: {
    openedInPeriod: number;
    closedInPeriod: number;
    /** Open at the period's end, and of those the ones past due (or alerted overdue) by then. */
    openAtEnd: number;
    overdueAtEnd: number;
    overdue: string[];
  };
  reasons: {
    /** Requests made without a reason. */
    missing: number;
    /** Reasons given verbatim by at least REPEATED_AT requests. */
    repeated: { text: string; count: number }[];
    /** Approvals given without a comment. */
    approvalsWithoutComment: number;
    /** An approver's comment given verbatim on at least REPEATED_AT approvals. */
    repeatedComments: { approver: string; text: string; count: number }[];
  };
  /**
   * Events of the period whose bodies retention removed (their leaf hashes stay): counts by action still hold,
   * their details (resources, postmortem ids) are gone; `postmortemEvents` counts the purged postmortem events up
   * to the period's end (a postmortem open in the period may have been opened long before). Null when none were.
   */
  purged: {
    events: number;
    firstSeq: number | null;
    lastSeq: number | null;
    postmortemEvents: number;
  } | null;
  warnings: ReportWarning[];
}

export interface ReportService {
  /** The access report of a period, for security, auditors and admins. */
  report(actor: Actor, period: Period): Promise<Report>;
}
