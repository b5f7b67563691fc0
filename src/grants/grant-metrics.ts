import { sql } from 'kysely';
import type { MetricSample, MetricSource } from '../module.js';
import type { StintDatabase } from '../store/database.js';
import { sharedRead, storeHistogram } from '../store/metric-queries.js';

/** From access ending in Stint to its removal confirmed on the target: seconds normally, minutes when retried. */
export const REVOCATION_LAG_BUCKETS_SECONDS = [
  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600,
] as const;

interface RevocationCount {
  resource: string;
  revocation: string;
  grants: number;
  failing: number;
  failedAttempts: number;
}

/**
 * Access on the targets, read from the store (every server says the same): grants live now, revocations
 * waiting, failing (retried) or abandoned (left for a person), failed attempts, and the revocation lag of the
 * grants whose removal was confirmed.
 */
export function grantMetrics(store: StintDatabase): MetricSource[] {
  const db = store.db;
  const revocations = sharedRead(async (): Promise<RevocationCount[]> => {
    const rows = await db
      .selectFrom('grants')
      .select([
        'resource',
        'revocation',
        (eb) => eb.fn.countAll<number>().as('n'),
        sql<number>`SUM(CASE WHEN revoke_attempts > 0 THEN 1 ELSE 0 END)`.as('failing'),
        sql<number>`SUM(revoke_attempts)`.as('attempts'),
      ])
      .groupBy(['resource', 'revocation'])
      .execute();
    return rows.map((r) => ({
      resource: r.resource,
      revocation: r.revocation,
      grants: Number(r.n),
      failing: Number(r.failing ?? 0),
      failedAttempts: Number(r.attempts ?? 0),
    }));
  });
  const perResource = async (
    keep: (r: RevocationCount) => boolean,
    value: (r: RevocationCount) => number,
  ): Promise<MetricSample[]> => {
    const sums = new Map<string, number>();
    for (const r of (await revocations()).filter(keep)) {
      sums.set(r.resource, (sums.get(r.resource) ?? 0) + value(r));
    }
    return [...sums].map(([resource, v]) => ({ labels: { resource }, value: v }));
  };
  return [
    {
      name: 'stint_grants_active',
      help: 'Grants live now (requests active), by resource',
      type: 'gauge',
      async collect() {
        const rows = await db
          .selectFrom('requests')
          .select(['resource', (eb) => eb.fn.countAll<number>().as('n')])
          .where('state', '=', 'active')
          .groupBy('resource')
          .execute();
        return rows.map((r) => ({ labels: { resource: r.resource }, value: Number(r.n) }));
      },
    },
    {
      name: 'stint_grants_revocations_pending',
      help: 'Revocations waiting for the target clean-up to be confirmed, by resource',
      type: 'gauge',
      collect: () =>
        perResource(
          (r) => r.revocation === 'pending',
          (r) => r.grants,
        ),
    },
    {
      name: 'stint_grants_revocations_failing',
      help: 'Pending revocations that failed at least once and are being retried, by resource',
      type: 'gauge',
      collect: () =>
        perResource(
          (r) => r.revocation === 'pending',
          (r) => r.failing,
        ),
    },
    {
      name: 'stint_grants_revocations_abandoned',
      help: 'Revocations that can never succeed (target gone), left for a person, by resource',
      type: 'gauge',
      collect: () =>
        perResource(
          (r) => r.revocation === 'abandoned',
          (r) => r.grants,
        ),
    },
    {
      name: 'stint_grants_revocations_completed_total',
      help: 'Revocations confirmed on the target, by resource',
      type: 'counter',
      collect: () =>
        perResource(
          (r) => r.revocation === 'done',
          (r) => r.grants,
        ),
    },
    {
      name: 'stint_grants_revocation_failures_total',
      help: 'Failed revocation attempts (each retry that failed, and the final one of an abandoned revocation), by resource',
      type: 'counter',
      collect: () =>
        perResource(
          () => true,
          (r) => r.failedAttempts,
        ),
    },
    {
      name: 'stint_grants_revocation_lag_seconds',
      help: 'From access ending in Stint to its removal confirmed on the target (revoked_at - ended_at)',
      type: 'histogram',
      buckets: REVOCATION_LAG_BUCKETS_SECONDS,
      async collect() {
        const [all] = await storeHistogram(db, {
          from: sql`grants JOIN requests ON requests.id = grants.request_id`,
          value: sql<number>`(grants.revoked_at - requests.ended_at)`,
          // A credential someone else removed first has no lag of Stint's to measure.
          where: sql`grants.revocation = 'done' AND grants.revoked_at IS NOT NULL AND requests.ended_at IS NOT NULL AND grants.vanished_at IS NULL`,
          bounds: REVOCATION_LAG_BUCKETS_SECONDS.map((s) => s * 1000),
        });
        return all ? [{ counts: all.counts, sum: all.sum / 1000, count: all.count }] : [];
      },
    },
  ];
}
