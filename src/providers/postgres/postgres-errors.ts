import pg from 'pg';
import { type ProviderFailureClass, StintError } from '../../domain/errors.js';
import { SOCKET_ERROR_CODES } from '../../socket-errors.js';
import { scrubText } from '../scrub.js';

interface DriverError {
  message?: unknown;
  code?: unknown;
}

/** A server-side error (the connection is still usable), as opposed to a network or protocol failure. */
export function isServerError(err: unknown): err is pg.DatabaseError {
  return err instanceof pg.DatabaseError;
}

export function sqlState(err: unknown): string | undefined {
  return isServerError(err) ? err.code : undefined;
}

/**
 * Removes secrets from a driver message. The known ones (this call's passwords and verifiers) go as the wrapper
 * removes configured ones (scrub.ts); the patterns catch what a server or driver might echo from a statement or
 * URL even if it was never in the list.
 */
export function redact(text: string, secrets: readonly string[]): string {
  return scrubText(text, secrets)
    .replace(/SCRAM-SHA-256\$[^\s'"]*/g, '[redacted]')
    .replace(/(PASSWORD\s+)'(?:[^']|'')*'/gi, "$1'[redacted]'")
    .replace(/(\/\/[^/\s:@]*):[^@\s/]*@/g, '$1:[redacted]@');
}

/**
 * Failures no retry mends: the admin connection's database no longer exists (invalid_catalog_name). Roles are
 * cluster-wide, so one may outlive its database: whoever reads the abandoned revocation removes it by hand.
 */
const PERMANENT_STATES = new Set(['3D000']);

/** pg's own messages for a connection that broke or never came (they carry no code). */
const UNREACHABLE_MESSAGES =
  /^(Connection terminated|timeout expired|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/**
 * What kind of failure a driver error is, for alerts: the admin's password rotated or its login refused (class
 * 28: 28P01, 28000), its rights taken away (42501), the server out of reach or going away (08, 57P01–57P03), the
 * database gone (3D000), or a conflict, timeout or overload worth retrying (40001, 40P01, 55P03, 57014, 53300).
 */
export function classify(err: unknown): ProviderFailureClass {
  const state = sqlState(err);
  if (state !== undefined) {
    if (state.startsWith('28')) return 'auth';
    if (state === '42501') return 'privilege';
    if (state === '3D000') return 'gone';
    if (state.startsWith('08') || ['57P01', '57P02', '57P03'].includes(state)) return 'unreachable';
    if (['40001', '40P01', '55P03', '57014', '53300', '53200'].includes(state)) return 'transient';
    return 'unknown';
  }
  const code = (err as DriverError)?.code;
  if (typeof code === 'string' && SOCKET_ERROR_CODES.has(code)) return 'unreachable';
  const message = (err as DriverError)?.message;
  if (typeof message === 'string' && UNREACHABLE_MESSAGES.test(message)) return 'unreachable';
  return 'unknown';
}

/**
 * A provider failure as a StintError: what was being done, the driver's message with secrets removed, and the
 * SQLSTATE when the server sent one. The original error is not attached: its fields could carry a statement.
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
  const state = sqlState(err);
  const code = (err as DriverError)?.code;
  const suffix = state
    ? ` (SQLSTATE ${state})`
    : typeof code === 'string' && !raw.includes(code)
      ? ` (${code})`
      : '';
  const message = `postgres target ${resourceId}: ${action} failed: ${redact(raw, secrets)}${suffix}`;
  return new StintError('PROVIDER_ERROR', message, {
    resource: resourceId,
    ...(state ? { sqlstate: state } : {}),
    class: classify(err),
    ...(state !== undefined && PERMANENT_STATES.has(state) ? { permanent: true } : {}),
  });
}
