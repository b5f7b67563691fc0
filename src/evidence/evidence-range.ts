import type { Kysely } from 'kysely';
import { purgeRange } from '../audit/log/purge-coverage.js';
import type { Database } from '../store/schema.js';

/**
 * How far an export of seqs from `from` must run for every blanked body in it to be covered by the `audit.purged`
 * event that blanked it (verifiers accept a missing body only under a signed purge that comes later in what they
 * read): the smallest size ≥ `to` such that each purge event reaching into [from, size) lies below it. `to` when
 * nothing in the range was purged. Purges blank old events first, so this settles in a step or two.
 */
export async function purgeCoveredSize(db: Kysely<Database>, from: number, to: number): Promise<number> {
  const purged = await db
    .selectFrom('audit_events')
    .select((eb) => eb.fn.min('seq').as('first'))
    .where('seq', '>=', from)
    .where('seq', '<', to)
    .where('body', 'is', null)
    .executeTakeFirst();
  if (purged?.first === null || purged?.first === undefined) return to;
  const purges = (
    await db
      .selectFrom('audit_events')
      .select(['seq', 'body'])
      .where('action', '=', 'audit.purged')
      .where('body', 'is not', null)
      .orderBy('seq')
      .execute()
  )
    .map((p) => ({ seq: Number(p.seq), range: purgeRange(p.body as string, Number(p.seq)) }))
    .filter((p): p is { seq: number; range: { start: number; end: number } } => p.range !== null);
  let size = to;
  for (;;) {
    const reaching = purges.filter((p) => p.range.start < size && p.range.end > from && p.seq >= size);
    if (reaching.length === 0) return size;
    size = Math.max(...reaching.map((p) => p.seq + 1));
  }
}
