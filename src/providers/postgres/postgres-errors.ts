import pg from 'pg';
import { StintError } from '../../domain/errors.js';

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
 * Removes secrets from a driver message. The known ones (passwords, verifiers) are replaced verbatim; the patterns
 * catch what a server or driver might echo from a statement or URL even if it was never in the list.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out
    .replace(/SCRAM-SHA-256\$[^\s'"]*/g, '[redacted]')
    .replace(/(PASSWORD\s+)'(?:[^']|'')*'/gi, "$1'[redacted]'")
    .replace(/(\/\/[^/\s:@]*):[^@\s/]*@/g, '$1:[redacted]@');
}

/**
 * Failures no retry mends: the admin connection's database no longer exists (invalid_catalog_name). Roles are
 * cluster-wide, so one may outlive its database: whoever reads the abandoned revocation removes it by hand.
 */
const PERMANENT_STATES = new Set(['3D000']);

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
    ...(state !== undefined && PERMANENT_STATES.has(state) ? { permanent: true } : {}),
  });
}
