import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import { type AuditInput, appendAudit } from './audit-store.js';

/**
 * Appends audit events in the caller's transaction (or in one of its own): the one way the workflow writes to
 * the audit log, injected so the workflow never holds the log's module state itself.
 */
export interface AuditWriter {
  append(
    db: Kysely<Database> | Transaction<Database>,
    events: AuditInput | readonly AuditInput[],
  ): Promise<void>;
}

export const auditWriter: AuditWriter = { append: appendAudit };
