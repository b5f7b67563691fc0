import type { Kysely, Transaction } from 'kysely';
import type { StintDatabase } from '../store/database.js';
import type { Database } from '../store/schema.js';

/** The conversion table (migration 0017), declared beside the capability; instants are epoch milliseconds. */
export type ConversionTables = {
  conversions: {
    id: string;
    quarter: string;
    resource: string;
    kind: string;
    principal: string;
    privilege: string;
    jit_role: string;
    state: ConversionState;
    /** `resource|principal|privilege` while open; NULL once completed or abandoned. */
    open_key: string | null;
    planned_by: string;
    planned_at: number;
    entitled_at: number | null;
    /** The policy rules (JSON list) that let people ask for the JIT role, as confirmed at `entitled`. */
    rule_ids: string | null;
    removed_at: number | null;
    ended_at: number | null;
    note: string | null;
  };
};

/** The steps in order; `abandoned` may end any step before `done`. */
export const CONVERSION_STATES = ['planned', 'entitled', 'removed', 'done', 'abandoned'] as const;
export type ConversionState = (typeof CONVERSION_STATES)[number];

export type ConversionDatabase = Database & ConversionTables;

export function conversionDb(store: Pick<StintDatabase, 'db'>): Kysely<ConversionDatabase> {
  return store.db.withTables<ConversionTables>();
}

/** A conversion transaction handed to the audit writer, which knows only the shared tables. */
export function asShared(trx: Transaction<ConversionDatabase>): Transaction<Database> {
  return trx as unknown as Transaction<Database>;
}
