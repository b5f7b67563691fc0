import { createHash } from 'node:crypto';

/**
 * The `mysql_native_password` hash MariaDB stores for `password` (`*` + hex SHA1(SHA1(password)), what
 * `PASSWORD()` computes). Creating the account with `IDENTIFIED BY PASSWORD '<hash>'` means the plaintext never
 * reaches the server: not its general or slow log, not the process list, not an error message.
 */
export function nativePasswordHash(password: string): string {
  const once = createHash('sha1').update(password, 'utf8').digest();
  return `*${createHash('sha1').update(once).digest('hex').toUpperCase()}`;
}
