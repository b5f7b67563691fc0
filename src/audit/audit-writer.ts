import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import { type AuditInput, appendAudit } from './audit-store.js';
import type { LeafMacKey } from './log/leaf-mac.js';

/**
 * Appends audit events in the caller's transaction (or in one of its own): the one way every capability writes
 * to the audit log, injected through the composition root so none holds the log's keys or module state itself.
 */
export interface AuditWriter {
  append(
    db: Kysely<Database> | Transaction<Database>,
    events: AuditInput | readonly AuditInput[],
  ): Promise<void>;
}

/**
 * The writer of one audit trail: its leaves carry a MAC under `macKeys` (derived from the checkpoint signing
 * keys), which the tree builder requires, so only a writer made from the signing keys can extend the log. The
 * audit module makes the server's one writer; with no keys, leaves carry no MAC and the builder refuses them.
 */
export function createAuditWriter(macKeys: readonly LeafMacKey[]): AuditWriter {
  return { append: (db, events) => appendAudit(db, events, macKeys) };
}
