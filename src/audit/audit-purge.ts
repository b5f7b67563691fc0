import type { Clock } from '../domain/clock.js';
import type { StintDatabase } from '../store/database.js';
import { appendAudit } from './audit-store.js';

/** PCI DSS 10.5.1 asks for a year of audit history at least. */
export const MIN_RETENTION_DAYS = 365;

/**
 * Retention: events older than the configured days lose their body. Their leaf hashes stay, so every later
 * checkpoint, proof and verification still holds. The purge is itself an audit event naming the seq range
 * `[start, end)` it blanks, recorded before the bodies go: the database triggers and every verifier accept a
 * missing body only under such an event (see docs/audit.md, Retention).
 */
export function createAuditPurge(deps: { store: StintDatabase; clock: Clock; retentionDays: number }) {
  if (!Number.isInteger(deps.retentionDays) || deps.retentionDays < MIN_RETENTION_DAYS) {
    throw new Error(`audit retention must be at least ${MIN_RETENTION_DAYS} days, got ${deps.retentionDays}`);
  }
  return async function purge(): Promise<{ purged: number; before: Date }> {
    const now = deps.clock();
    const before = new Date(now.getTime() - deps.retentionDays * 86_400_000);
    return deps.store.db.transaction().execute(async (trx) => {
      const old = () =>
        trx.selectFrom('audit_events').where('at', '<', before.getTime()).where('body', 'is not', null);
      const span = await old()
        .select((eb) => [eb.fn.min('seq').as('first'), eb.fn.max('seq').as('last'), eb.fn.countAll().as('n')])
        .executeTakeFirst();
      const purged = Number(span?.n ?? 0);
      if (purged === 0 || span?.first == null || span.last == null) return { purged: 0, before };
      const range = { start: Number(span.first), end: Number(span.last) + 1 };
      // The event first: the database lets a body go only under a recorded purge that covers it.
      await appendAudit(trx, {
        at: now,
        actor: 'stint',
        action: 'audit.purged',
        requestId: null,
        details: { before: before.toISOString(), events: purged, retentionDays: deps.retentionDays, range },
      });
      await trx
        .updateTable('audit_events')
        .set({ body: null })
        .where('at', '<', before.getTime())
        .where('body', 'is not', null)
        .where('seq', '>=', range.start)
        .where('seq', '<', range.end)
        .execute();
      return { purged, before };
    });
  };
}
