export type Dialect = 'sqlite' | 'postgres';

/** What every migration is built with. Its own file, so a migration never imports the list that holds it. */
export interface MigrationContext {
  dialect: Dialect;
}
