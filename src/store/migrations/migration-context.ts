/**
 * The store's SQL dialect: where the SQL Stint writes differs (column types, functions). Behaviour that depends on
 * what the engine offers asks its traits instead (store-traits.ts). Named apart from the `postgres` target kind.
 */
export type Dialect = 'sqlite' | 'postgresql';

/** What every migration is built with. Its own file, so a migration never imports the list that holds it. */
export interface MigrationContext {
  dialect: Dialect;
}
