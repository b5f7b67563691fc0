import type { Clock } from '../requests/context.js';
import type { StintDatabase } from '../store/database.js';
import { appendAudit } from './audit-store.js';

/** PCI DSS 10.5.1 asks for a year of audit history at least. */
export const MIN_RETENTION_DAYS = 365;

/**
 * Retention: events older than the configured days lose their body. Their leaf hashes stay, so every later
 * checkpoint, proof and verification still holds; the purge is itself an audit event.
 */
export function createAuditPurge(deps: { store: StintDatabase; clock: Clock; retentionDays: number }) {
  if (!Number.isInteger(deps.retentionDays) || deps.retentionDays < MIN_RETENTION_DAYS) {
    throw new Error(`audit retention must be at least ${MIN_RETENTION_DAYS} days, got ${deps.retentionDays}`);
  }
  return async function purge(): Promise<{ purged: number; before: Date }> {
    const now = deps.clock();
    const before = new Date(now.getTime() - deps.retentionDays * 86_400_000);
    return deps.store.db.transaction().execute(async (trx) => {
      const res = await trx
        .updateTable('audit_events')
        .set({ body: null })
        .where('at', '<', before.getTime())
        .where('body', 'is not', null)
        .executeTakeFirst();
      const purged = Number(res.numUpdatedRows);
      if (purged > 0) {
        await appendAudit(trx, {
          at: now,
          actor: 'stint',
          action: 'audit.purged',
          requestId: null,
          details: { before: before.toISOString(), events: purged, retentionDays: deps.retentionDays },
        });
      }
      return { purged, before };
    });
  };
}
