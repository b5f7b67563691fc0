import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';

/** Owner read/write only: the store holds the audit trail and every request's history. */
export const STORE_FILE_MODE = 0o600;

/**
 * Makes the SQLite file (and its WAL and shared-memory files, if any) readable and writable by the owner only,
 * before SQLite opens it. SQLite creates -wal and -shm with the database file's own mode, so a file created
 * 0600 here keeps them 0600 too; an older store made 0644 (the umask default) is narrowed on its next start.
 * Whoever could write the store could append and blank events; the keys that catch that live elsewhere.
 */
export function restrictSqliteFiles(file: string): void {
  // 'a' creates the file if needed without truncating an existing one.
  closeSync(openSync(file, 'a', STORE_FILE_MODE));
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    if (existsSync(path)) chmodSync(path, STORE_FILE_MODE);
  }
}
