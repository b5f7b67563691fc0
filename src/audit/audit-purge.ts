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

  /**
   * The oldest batch still holding bodies from seq `from` on, under its own purge event. The range stops before
   * an event younger than the cutoff (stamped out of order) and before the first event a hold keeps (verifiers
   * flag a purge whose range reaches either: log/purge-rules.ts); the next batch starts after that event, which
   * keeps its body. `next` is null once nothing is left.
   */
  const purgeBatch = (
    now: Date,
    before: Date,
    from: number,
  ): Promise<{ purged: number; next: number | null }> =>
    deps.store.db.transaction().execute(async (trx) => {
      const db = trx as unknown as Kysely<Database>;
      const seqs = await trx
        .selectFrom('audit_events')
        .select('seq')
        .where('seq', '>=', from)
        .where('at', '<', before.getTime())
        .where('body', 'is not', null)
        .orderBy('seq')
        .limit(batchSize)
        .execute();
      const first = seqs[0]?.seq;
      const last = seqs.at(-1)?.seq;
      if (first == null || last == null) return { purged: 0, next: null };
      const start = Number(first);
      let end = Number(last) + 1;
      let stop: number | null = null;
      const young = await trx
        .selectFrom('audit_events')
        .select('seq')
        .where('seq', '>=', start)
        .where('seq', '<', end)
        .where('at', '>=', before.getTime())
        .orderBy('seq')
        .limit(1)
        .executeTakeFirst();
      if (young) stop = Number(young.seq);
      for (const hold of deps.holds ?? []) {
        const held = await hold.firstHeld(db, { start, end: stop ?? end });
        if (held !== null && held >= start) stop = Math.min(stop ?? end, held);
      }
      if (stop !== null) end = stop;
      const next = stop !== null ? stop + 1 : seqs.length < batchSize ? null : end;
      const purged = seqs.filter((r) => Number(r.seq) < end).length;
      if (purged === 0) return { purged, next };
      // The retention in force goes into the trail first (when it changed), then the purge event: the database
      // lets a body go only under a recorded purge that covers it.
      await recordRetention(deps.writer, db, now, deps.retentionDays);
      await deps.writer.append(trx, {
        at: now,
        actor: 'stint',
        action: 'audit.purged',
        requestId: null,
        details: {
          before: before.toISOString(),
          events: purged,
          retentionDays: deps.retentionDays,
          range: { start, end },
        },
      });
      await trx
        .updateTable('audit_events')
        .set({ body: null })
        .where('at', '<', before.getTime())
        .where('body', 'is not', null)
        .where('seq', '>=', start)
        .where('seq', '<', end)
        .execute();
      return { purged, next };
    });

  return async function purge(): Promise<{ purged: number; batches: number; before: Date }> {
    const now = deps.clock();
    const before = new Date(now.getTime() - deps.retentionDays * 86_400_000);
    let purged = 0;
    let batches = 0;
    let from: number | null = 0;
    while (from !== null) {
      const batch = await purgeBatch(now, before, from);
      if (batch.purged > 0) {
        purged += batch.purged;
        batches += 1;
      }
      from = batch.next;
    }
    return { purged, batches, before };
  };
}
