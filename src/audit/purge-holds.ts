import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';

/**
 * Something that keeps events from being purged, whatever their age: a session whose review is still open,
 * a break-glass use (capabilities still to come plug in here). The purge never reaches the first event a hold
 * names; the matching verifier rule (log/purge-rules.ts) flags a purge event that did.
 */
export interface PurgeHold {
  /** Named in the purge's log line when it holds the purge back. */
  readonly name: string;
  /** The smallest seq in [start, end) this hold keeps, or null when it keeps none of them. */
  firstHeld(db: Kysely<Database>, range: { start: number; end: number }): Promise<number | null>;
}
