import { sql } from 'kysely';
import { TERMINAL_STATES } from '../domain/request.js';
import type { HistogramSample, MetricSample, MetricSource } from '../module.js';
import type { StintDatabase } from '../store/database.js';
import { sharedRead, storeHistogram } from '../store/metric-queries.js';

/**
 * Approval times worth telling apart: the brief's healthy median is 5–15 minutes (300 and 900 are bounds), slower
 * pushes people to workarounds, faster means nobody looks.
 */
export const APPROVAL_BUCKETS_SECONDS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 86_400] as const;

/** A request's tiers as one label: `manager`, `manager+two-person`; `none` when it has none. */
export function tierLabel(tiersJson: string): string {
  try {
    const tiers = JSON.parse(tiersJson) as unknown;
    if (Array.isArray(tiers)) return tiers.length > 0 ? tiers.map(String).join('+') : 'none';
  } catch {
    // A row that does not parse is still counted, under a label that says so.
  }
  return 'unknown';
}

interface StateCount {
  resource: string;
  tier: string;
  state: string;
  count: number;
}

/**
 * What the request workflow counts, read from the store so every server of a deployment says the same: requests
 * made and how they ended (by resource and tier), those open now, and the approval-time histogram (approved_at −
 * created_at of requests a person approved; auto-approved ones would only crowd the first bucket).
 */
export function requestMetrics(store: StintDatabase): MetricSource[] {
  const db = store.db;
  const byState = sharedRead(async (): Promise<StateCount[]> => {
    const rows = await db
      .selectFrom('requests')
      .select(['resource', 'tiers', 'state', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy(['resource', 'tiers', 'state'])
      .execute();
    return rows.map((r) => ({
      resource: r.resource,
      tier: tierLabel(r.tiers),
      state: r.state,
      count: Number(r.n),
    }));
  });
  /** Rows of different tier lists may share a label: summed per label set. */
  const summed = (
    rows: StateCount[],
    keep: (r: StateCount) => boolean,
    labels: (r: StateCount) => Record<string, string>,
  ) => {
    const out = new Map<string, MetricSample>();
    for (const r of rows.filter(keep)) {
      const l = labels(r);
      const key = JSON.stringify(l);
      const prev = out.get(key);
      out.set(key, { labels: l, value: (prev?.value ?? 0) + r.count });
    }
    return [...out.values()];
  };
  const terminal = (r: StateCount) => TERMINAL_STATES.has(r.state as never);
  return [
    {
      name: 'stint_requests_total',
      help: 'Access requests made, by resource and approval tier',
      type: 'counter',
      collect: async () =>
        summed(
          await byState(),
          () => true,
          (r) => ({ resource: r.resource, tier: r.tier }),
        ),
    },
    {
      name: 'stint_requests_ended_total',
      help: 'Access requests that ended, by resource, tier and outcome (expired, denied, withdrawn, revoked, failed, timed_out)',
      type: 'counter',
      collect: async () =>
        summed(await byState(), terminal, (r) => ({ resource: r.resource, tier: r.tier, outcome: r.state })),
    },
    {
      name: 'stint_requests_open',
      help: 'Access requests not ended yet, by resource, tier and state (pending, approved, active)',
      type: 'gauge',
      collect: async () =>
        summed(
          await byState(),
          (r) => !terminal(r),
          (r) => ({ resource: r.resource, tier: r.tier, state: r.state }),
        ),
    },
    {
      name: 'stint_requests_approval_seconds',
      help: 'Time from request to approval of requests a person approved, by tier (approved_at - created_at)',
      type: 'histogram',
      buckets: APPROVAL_BUCKETS_SECONDS,
      async collect(): Promise<HistogramSample[]> {
        const groups = await storeHistogram(db, {
          from: sql`requests`,
          value: sql<number>`(approved_at - created_at)`,
          // No slots: approved at creation (auto), never waited for a person.
          where: sql`approved_at IS NOT NULL AND slots <> '[]'`,
          groupBy: sql`tiers`,
          bounds: APPROVAL_BUCKETS_SECONDS.map((s) => s * 1000),
        });
        const byTier = new Map<string, HistogramSample>();
        for (const g of groups) {
          const tier = tierLabel(g.group ?? '[]');
          const prev = byTier.get(tier);
          byTier.set(tier, {
            labels: { tier },
            counts: g.counts.map((c, i) => c + (prev?.counts[i] ?? 0)),
            sum: g.sum / 1000 + (prev?.sum ?? 0),
            count: g.count + (prev?.count ?? 0),
          });
        }
        return [...byTier.values()];
      },
    },
  ];
}
