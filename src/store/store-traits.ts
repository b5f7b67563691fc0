import type { Dialect } from './migrations/migration-context.js';

/**
 * What a store engine offers that Stint's behaviour depends on. Code asks for the trait it relies on, never for
 * the engine by name: the store's engine and a target's kind are different things (PostgreSQL is both).
 */
export interface StoreTraits {
  /**
   * One writer at a time, in this process alone (SQLite): transactions never interleave, and a claim found at
   * start can only be a crashed run's of this same server.
   */
  singleWriter: boolean;
  /** Row locks (`SELECT … FOR UPDATE`) held until commit, so racing read-decide-write steps take turns. */
  rowLocks: boolean;
  /** Transaction-scoped advisory locks (`pg_advisory_xact_lock`), for work no row stands for. */
  advisoryLocks: boolean;
}

const TRAITS: Record<Dialect, StoreTraits> = {
  sqlite: { singleWriter: true, rowLocks: false, advisoryLocks: false },
  postgresql: { singleWriter: false, rowLocks: true, advisoryLocks: true },
};

export function storeTraits(dialect: Dialect): StoreTraits {
  return TRAITS[dialect];
}
