import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database } from './schema.js';

/** One group of a histogram the store counted: observations at or under each bound, their sum and number. */
export interface StoreBuckets {
  group: string | null;
  counts: number[];
  sum: number;
  count: number;
}

/**
 * A histogram over every matching row, counted by the store in one pass (one `SUM(CASE …)` per bound) so that
 * no row is read out: approval times and revocation lags over a store's whole history cost one aggregate
 * query, not a walk. `value`, `from`, `where` and `groupBy` are fixed SQL written by the caller (no input).
 */
export async function storeHistogram(
  db: Kysely<Database>,
  q: {
    from: RawBuilder<unknown>;
    value: RawBuilder<number>;
    where: RawBuilder<unknown>;
    groupBy?: RawBuilder<unknown>;
    bounds: readonly number[];
  },
): Promise<StoreBuckets[]> {
  const buckets = q.bounds.map(
    (bound, i) => sql`SUM(CASE WHEN ${q.value} <= ${bound} THEN 1 ELSE 0 END) AS ${sql.ref(`b${i}`)}`,
  );
  const group = q.groupBy ?? sql`NULL`;
  const query = sql<
    Record<string, unknown>
  >`SELECT ${group} AS g, ${sql.join(buckets)}, SUM(${q.value}) AS s, COUNT(*) AS n
    FROM ${q.from} WHERE ${q.where}${q.groupBy ? sql` GROUP BY ${q.groupBy}` : sql``}`;
  const { rows } = await query.execute(db);
  return rows
    .map((row) => ({
      group: row.g === null || row.g === undefined ? null : String(row.g),
      counts: q.bounds.map((_, i) => Number(row[`b${i}`] ?? 0)),
      sum: Number(row.s ?? 0),
      count: Number(row.n ?? 0),
    }))
    .filter((b) => b.count > 0 || q.groupBy === undefined);
}

/**
 * One store read shared by the metric families a scrape collects together (they are collected at once): the
 * first family to ask starts the query, the others within `ms` take its answer. A failed read is not kept.
 */
export function sharedRead<T>(read: () => Promise<T>, ms = 1_000): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | null = null;
  return () => {
    const now = Date.now();
    if (last && now - last.at < ms) return last.value;
    const value = read();
    const entry = { at: now, value };
    last = entry;
    value.catch(() => {
      if (last === entry) last = null;
    });
    return value;
  };
}
