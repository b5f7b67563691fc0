import type { Transaction } from 'kysely';
import type { Database } from '../store/schema.js';

/**
 * Records a change's answer in the change's own transaction (an Idempotency-Key's), so the two commit together:
 * a change that committed as the store died is answered on retry instead of refused as already done.
 */
export type RecordAnswer = (trx: Transaction<Database>, body: unknown) => Promise<void>;

/** Options of a state change: where its answer is recorded with it. */
export interface ChangeOptions {
  record?: RecordAnswer | undefined;
}
