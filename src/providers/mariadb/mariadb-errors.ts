import { type ProviderFailureClass, StintError } from '../../domain/errors.js';
import { SOCKET_ERROR_CODES } from '../../socket-errors.js';
import { scrubText } from '../scrub.js';

/** What mysql2 puts on its errors; `sql` (the statement) is never read: it may hold a password hash. */
interface DriverError {
  message?: unknown;
  code?: unknown;
  errno?: unknown;
  sqlState?: unknown;
  fatal?: unknown;
}

/** The server's error number, when the server answered with one (a network failure has none). */
export function serverErrno(err: unknown): number | undefined {
  const e = err as DriverError | undefined;
  if (typeof e?.errno !== 'number' || typeof e.sqlState !== 'string' || e.errno <= 0) return undefined;
  return e.errno;
}

/** ER_CANNOT_USER: DROP USER of an account that no longer exists. */
export const ER_CANNOT_USER = 1396;
/** ER_NO_SUCH_THREAD: KILL of a connection that already ended. */
export const ER_NO_SUCH_THREAD = 1094;

/** Stint's own credential refused: wrong or rotated password, locked or expired account. */
const AUTH = new Set([1045, 1862, 4151]);
/**
 * The admin account lacks a right it needs (see docs/mariadb-target.md): 1095 is KILL without CONNECTION ADMIN,
 * 1698 a role granted without ADMIN OPTION (at login, the same number means the login was refused).
 */
const PRIVILEGE = new Set([1044, 1095, 1142, 1143, 1227, 1370, 1410, 1698, 1919]);
/** The metadata schema or table is missing: setup not run, or dropped. */
const GONE = new Set([1049, 1146]);
/** Worth retrying: too many connections, lock waits, deadlocks, timeouts, a server shutting down. */
const TRANSIENT = new Set([1040, 1203, 1205, 1213, 1969, 3024]);
const UNREACHABLE = new Set([1053, 1077, 1152, 1153, 1158, 1159, 1160, 1161, 2002, 2003, 2006, 2013]);

/** mysql2's own codes for a connection that broke or never came. */
const DRIVER_UNREACHABLE = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'PROTOCOL_ENQUEUE_AFTER_QUIT',
  'ER_CON_COUNT_ERROR',
]);

/**
 * What kind of failure a driver error is, for alerts: the admin refused (1045 and kin), its rights missing (1044,
 * 1142, 1227…), the metadata table gone, a conflict or overload worth retrying, or the server out of reach.
 */
export function classify(err: unknown): ProviderFailureClass {
  const errno = serverErrno(err);
  if (errno !== undefined) {
    if (AUTH.has(errno) || (errno === 1698 && (err as DriverError).fatal === true)) return 'auth';
    if (PRIVILEGE.has(errno)) return 'privilege';
    if (GONE.has(errno)) return 'gone';
    if (TRANSIENT.has(errno)) return 'transient';
    if (UNREACHABLE.has(errno)) return 'unreachable';
    return 'unknown';
  }
  const code = (err as DriverError | undefined)?.code;
  if (typeof code === 'string' && (SOCKET_ERROR_CODES.has(code) || DRIVER_UNREACHABLE.has(code)))
    return 'unreachable';
  return 'unknown';
}

/**
 * Removes secrets from a driver message: this call's password and hash as the wrapper removes configured ones,
 * then anything shaped like a password clause or a native-password hash a server might echo from a statement.
 */
export function redact(text: string, secrets: readonly string[]): string {
  return scrubText(text, secrets)
    .replace(/\*[0-9A-Fa-f]{40}/g, '[redacted]')
    .replace(/(IDENTIFIED\s+(?:BY|VIA|WITH)[^']*)'(?:[^'\\]|\\.|'')*'/gi, "$1'[redacted]'")
    .replace(/(\/\/[^/\s:@]*):[^@\s/]*@/g, '$1:[redacted]@');
}

/**
 * A provider failure as a StintError: what was being done, the driver's message with secrets removed, and the
 * server's error number when it sent one. The original error is not attached: its `sql` holds the statement.
 */
export function providerError(
  resourceId: string,
  action: string,
  err: unknown,
  secrets: readonly string[],
): StintError {
  if (err instanceof StintError) return err;
  const raw =
    typeof (err as DriverError)?.message === 'string'
      ? ((err as DriverError).message as string)
      : String(err);
  const errno = serverErrno(err);
  const code = (err as DriverError)?.code;
  const sqlState = (err as DriverError)?.sqlState;
  const suffix =
    errno !== undefined
      ? ` (error ${errno}${typeof sqlState === 'string' ? `, SQLSTATE ${sqlState}` : ''})`
      : typeof code === 'string' && !raw.includes(code)
        ? ` (${code})`
        : '';
  const message = `mariadb target ${resourceId}: ${action} failed: ${redact(raw, secrets)}${suffix}`;
  return new StintError('PROVIDER_ERROR', message, {
    resource: resourceId,
    ...(typeof sqlState === 'string' && errno !== undefined ? { sqlstate: sqlState } : {}),
    class: classify(err),
  });
}
