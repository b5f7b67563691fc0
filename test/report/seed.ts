import type { Harness } from '../support/harness.js';

const MIN = 60_000;

interface SeedReview {
  reviewer: string;
  decision: 'approve' | 'deny';
  comment: string;
  afterMin: number;
}

interface SeedRequest {
  id: string;
  resource: string;
  role: string;
  tiers: string[];
  created: string;
  reason: string;
  state: string;
  /** Approved this many minutes after creation (0 for auto); absent: never approved. */
  approvedAfterMin?: number;
  reviews?: SeedReview[];
}

const slotsOf = (tiers: string[]) =>
  tiers.includes('auto')
    ? []
    : tiers.map((tier) => ({ tier, label: tier, eligible: ['carol', 'sam', 'bob'] }));

/**
 * Requests of 2026-Q3 (and a few just outside it) written straight into the store, each with the times and
 * reviews the report reads: the figures below are counted from this table by hand.
 */
export const SEEDED: SeedRequest[] = [
  {
    id: 'req_0000000000000001',
    resource: 'prod-db',
    role: 'admin',
    tiers: ['manager'],
    created: '2026-07-02T10:00:00Z',
    reason: 'INC-100',
    state: 'expired',
    approvedAfterMin: 4,
    reviews: [{ reviewer: 'carol', decision: 'approve', comment: 'ok', afterMin: 4 }],
  },
  {
    id: 'req_0000000000000002',
    resource: 'prod-db',
    role: 'admin',
    tiers: ['manager'],
    created: '2026-07-03T10:00:00Z',
    reason: 'INC-101',
    state: 'expired',
    approvedAfterMin: 8,
    reviews: [{ reviewer: 'carol', decision: 'approve', comment: 'ok', afterMin: 8 }],
  },
  {
    id: 'req_0000000000000003',
    resource: 'prod-db',
    role: 'admin',
    tiers: ['manager'],
    created: '2026-07-04T10:00:00Z',
    reason: 'INC-102',
    state: 'revoked',
    approvedAfterMin: 20,
    reviews: [{ reviewer: 'carol', decision: 'approve', comment: 'ok', afterMin: 20 }],
  },
  {
    id: 'req_0000000000000004',
    resource: 'payments-db',
    role: 'admin',
    tiers: ['manager', 'two-person'],
    created: '2026-07-05T10:00:00Z',
    reason: 'INC-103',
    state: 'expired',
    approvedAfterMin: 30,
    reviews: [
      { reviewer: 'carol', decision: 'approve', comment: 'fine', afterMin: 6 },
      { reviewer: 'sam', decision: 'approve', comment: 'checked', afterMin: 30 },
    ],
  },
  {
    id: 'req_0000000000000005',
    resource: 'prod-db',
    role: 'read',
    tiers: ['peer'],
    created: '2026-07-06T10:00:00Z',
    reason: 'deploy',
    state: 'expired',
    approvedAfterMin: 2,
    reviews: [{ reviewer: 'bob', decision: 'approve', comment: '', afterMin: 2 }],
  },
  {
    id: 'req_0000000000000006',
    resource: 'staging-db',
    role: 'read',
    tiers: ['auto'],
    created: '2026-07-07T10:00:00Z',
    reason: 'deploy',
    state: 'expired',
    approvedAfterMin: 0,
  },
  {
    id: 'req_0000000000000007',
    resource: 'staging-db',
    role: 'read',
    tiers: ['auto'],
    created: '2026-08-07T10:00:00Z',
    reason: 'deploy',
    state: 'expired',
    approvedAfterMin: 0,
  },
  {
    id: 'req_0000000000000008',
    resource: 'prod-db',
    role: 'admin',
    tiers: ['manager'],
    created: '2026-08-08T10:00:00Z',
    reason: '',
    state: 'denied',
    reviews: [{ reviewer: 'carol', decision: 'deny', comment: 'no ticket', afterMin: 3 }],
  },
  {
    id: 'req_0000000000000009',
    resource: 'prod-db',
    role: 'ops',
    tiers: ['security'],
    created: '2026-08-09T10:00:00Z',
    reason: 'INC-104',
    state: 'timed_out',
  },
  {
    id: 'req_000000000000000a',
    resource: 'prod-db',
    role: 'admin',
    tiers: ['manager'],
    created: '2026-09-10T10:00:00Z',
    reason: 'INC-105',
    state: 'withdrawn',
  },
  // Outside the period: the minute before it, and its end (exclusive).
  {
    id: 'req_000000000000000b',
    resource: 'staging-db',
    role: 'read',
    tiers: ['auto'],
    created: '2026-06-30T23:59:00Z',
    reason: 'deploy',
    state: 'expired',
    approvedAfterMin: 0,
  },
  {
    id: 'req_000000000000000c',
    resource: 'prod-db',
    role: 'admin',
    tiers: ['manager'],
    created: '2026-10-01T00:00:00Z',
    reason: 'deploy',
    state: 'denied',
    reviews: [{ reviewer: 'carol', decision: 'deny', comment: 'no', afterMin: 1 }],
  },
  {
    id: 'req_000000000000000d',
    resource: 'prod-db',
    role: 'read',
    tiers: ['peer'],
    created: '2026-09-30T23:00:00Z',
    reason: 'INC-106',
    state: 'pending',
  },
];

/** Audit events by name, as break-glass writes them (`breakglass.invoked`, `postmortem.*`), at known times. */
export const SEEDED_EVENTS: {
  at: string;
  action: string;
  resource?: string;
  details: Record<string, unknown>;
}[] = [
  { at: '2026-06-15T09:00:00Z', action: 'breakglass.invoked', resource: 'prod-db', details: {} },
  { at: '2026-07-20T09:00:00Z', action: 'breakglass.invoked', resource: 'prod-db', details: {} },
  { at: '2026-09-01T09:00:00Z', action: 'breakglass.invoked', resource: 'payments-db', details: {} },
  {
    at: '2026-06-20T09:00:00Z',
    action: 'postmortem.opened',
    details: { postmortemId: 'pm1', due: '2026-07-10T09:00:00.000Z' },
  },
  { at: '2026-07-05T09:00:00Z', action: 'postmortem.closed', details: { postmortemId: 'pm1' } },
  {
    at: '2026-07-10T09:00:00Z',
    action: 'postmortem.opened',
    details: { postmortemId: 'pm2', due: '2026-07-17T09:00:00.000Z' },
  },
  {
    at: '2026-07-18T09:00:00Z',
    action: 'postmortem.overdue',
    details: { postmortemId: 'pm2', due: '2026-07-17T09:00:00.000Z' },
  },
  {
    at: '2026-09-20T09:00:00Z',
    action: 'postmortem.opened',
    details: { postmortemId: 'pm3', due: '2026-10-20T09:00:00.000Z' },
  },
  {
    at: '2026-08-01T09:00:00Z',
    action: 'postmortem.opened',
    details: { postmortemId: 'pm4', due: '2026-08-08T09:00:00.000Z' },
  },
  { at: '2026-10-05T09:00:00Z', action: 'postmortem.closed', details: { postmortemId: 'pm4' } },
  {
    at: '2026-10-02T09:00:00Z',
    action: 'postmortem.opened',
    details: { postmortemId: 'pm5', due: '2026-10-09T09:00:00.000Z' },
  },
];

export async function seedReport(h: Harness): Promise<void> {
  const db = h.stint.deps.store.db;
  for (const r of SEEDED) {
    const created = Date.parse(r.created);
    const approved = r.approvedAfterMin === undefined ? null : created + r.approvedAfterMin * MIN;
    await db
      .insertInto('requests')
      .values({
        id: r.id,
        requester: 'alice',
        resource: r.resource,
        role: r.role,
        reason: r.reason,
        duration_seconds: 3600,
        state: r.state,
        policy_version: 'seeded',
        rule_id: 'seeded',
        tiers: JSON.stringify(r.tiers),
        slots: JSON.stringify(slotsOf(r.tiers)),
        created_at: created,
        pending_until: r.state === 'pending' ? Date.parse('2030-01-01T00:00:00Z') : created + 86_400_000,
        approved_at: approved,
        activated_at: approved,
        expires_at: approved === null ? null : approved + 3_600_000,
        ended_at: r.state === 'pending' ? null : created + 2 * 3_600_000,
        ended_by: null,
        end_reason: null,
        version: 3,
        issue_claimed_until: null,
      })
      .execute();
    for (const v of r.reviews ?? []) {
      await db
        .insertInto('reviews')
        .values({
          request_id: r.id,
          reviewer: v.reviewer,
          decision: v.decision,
          comment: v.comment,
          at: created + v.afterMin * MIN,
        })
        .execute();
    }
  }
  for (const e of SEEDED_EVENTS) {
    await h.stint.audit.writer.append(db, {
      at: new Date(e.at),
      actor: 'stint',
      action: e.action,
      requestId: null,
      ...(e.resource ? { target: { resource: e.resource } } : {}),
      details: e.details,
    });
  }
}
