import type { Kysely } from 'kysely';
import type { Clock } from '../domain/clock.js';
import type { StintDatabase } from '../store/database.js';
import type { Database } from '../store/schema.js';
import { recordRetention } from './audit-retention.js';
import type { AuditWriter } from './audit-writer.js';
import type { PurgeHold } from './purge-holds.js';

/** PCI DSS 10.5.1 asks for a year of audit history at least. */
export const MIN_RETENTION_DAYS = 365;

/**
 * Retention: events older than the configured days lose their body. Their leaf hashes stay, so every later
 * checkpoint, proof and verification still holds. The purge is itself an audit event naming the seq range
 * `[start, end)` it blanks, recorded before the bodies go: the database triggers and every verifier accept a
 * missing body only under such an event (see docs/audit.md, Retention).
 */
/** Bodies blanked per transaction: a first purge of a year's backlog must not hold one lock over it all. */
export const PURGE_BATCH = 10_000;

export function createAuditPurge(deps: {
  store: StintDatabase;
  /** The trail's writer: the purge and retention events carry its MAC like every other leaf. */
  writer: AuditWriter;
  clock: Clock;
  retentionDays: number;
  batchSize?: number;
  /** What keeps events from being purged whatever their age (purge-holds.ts); none yet. */
  holds?: readonly PurgeHold[];
}) {
  if (!Number.isInteger(deps.retentionDays) || deps.retentionDays < MIN_RETENTION_DAYS) {
    throw new Error(`audit retention must be at least ${MIN_RETENTION_DAYS} days, got ${deps.retentionDays}`);
  }
  const batchSize = deps.batchSize ?? PURGE_BATCH;

  /** The oldest batch still holding bodies, under its own purge event; 0 once none is left. */
  const purgeBatch = (now: Date, before: Date): Promise<number> =>
    deps.store.db.transaction().execute(async (trx) => {
      const seqs = await trx
        .selectFrom('audit_events')
        .select('seq')
        .where('at', '<', before.getTime())
        .where('body', 'is not', null)
        .orderBy('seq')
        .limit(batchSize)
        .execute();
      const first = seqs[0]?.seq;
      const last = seqs.at(-1)?.seq;
      if (first == null || last == null) return 0;
      let end = Number(last) + 1;
      // The range never reaches an event younger than the cutoff (an event stamped out of order), nor one a
      // hold keeps: verifiers flag a purge whose range does (log/purge-rules.ts).
      const young = await trx
        .selectFrom('audit_events')
        .select('seq')
        .where('seq', '>=', Number(first))
        .where('seq', '<', end)
        .where('at', '>=', before.getTime())
        .orderBy('seq')
        .limit(1)
        .executeTakeFirst();
      if (young) end = Number(young.seq);
      for (const hold of deps.holds ?? []) {
        const held = await hold.firstHeld(trx as unknown as Kysely<Database>, { start: Number(first), end });
        if (held !== null) end = Math.min(end, held);
      }
      const range = { start: Number(first), end };
      const purged = seqs.filter((r) => Number(r.seq) < end).length;
      if (purged === 0) return 0;
      // The retention in force goes into the trail first (when it changed), then the purge event: the database
      // lets a body go only under a recorded purge that covers it.
      await recordRetention(deps.writer, trx as unknown as Kysely<Database>, now, deps.retentionDays);
      await deps.writer.append(trx, {
        at: now,
        actor: 'stint',
        action: 'audit.purged',
        requestId: null,
        details: {
          before: before.toISOString(),
          events: purged,
          retentionDays: deps.retentionDays,
          range,
        },
      });
      await trx
        .updateTable('audit_events')
        .set({ body: null })
        .where('at', '<', before.getTime())
        .where('body', 'is not', null)
        .where('seq', '>=', range.start)
        .where('seq', '<', range.end)
        .execute();
      // A batch cut short by a young event or a hold ends this run: nothing after it may go yet.
      return purged === seqs.length ? purged : -purged;
    });

  return async function purge(): Promise<{ purged: number; batches: number; before: Date }> {
    const now = deps.clock();
    const before = new Date(now.getTime() - deps.retentionDays * 86_400_000);
    let purged = 0;
    let batches = 0;
    for (;;) {
      const n = await purgeBatch(now, before);
      if (n === 0) break;
      purged += Math.abs(n);
      batches += 1;
      if (n < 0 || n < batchSize) break;
    }
    return { purged, batches, before };
  };
}
