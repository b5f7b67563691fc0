import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { AuditWriter } from './audit-writer.js';
import { RETENTION_ACTION } from './log/purge-rules.js';

type Db = Kysely<Database>;

/** The retention the trail last recorded (an `audit.retention` event), or null when none is (or it was purged). */
export async function recordedRetention(db: Db): Promise<number | null> {
  const row = await db
    .selectFrom('audit_events')
    .select('body')
    .where('action', '=', RETENTION_ACTION)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!row?.body) return null;
  const days = (JSON.parse(row.body) as { details?: { retentionDays?: unknown } }).details?.retentionDays;
  return Number.isSafeInteger(days) ? (days as number) : null;
}

/**
 * Records the retention in force in the signed trail when it is not what the trail says already, so every
 * verifier judges a purge by the retention in force when it ran, not by what the purge claims. `db` may be a
 * transaction (the purge records it just before its own event).
 */
export async function recordRetention(
  writer: AuditWriter,
  db: Db,
  at: Date,
  retentionDays: number,
): Promise<boolean> {
  const previous = await recordedRetention(db);
  if (previous === retentionDays) return false;
  await writer.append(db, {
    at,
    actor: 'stint',
    action: RETENTION_ACTION,
    requestId: null,
    details: { retentionDays, previous },
  });
  return true;
}
