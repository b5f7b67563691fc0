import { type ProviderFailureClass, StintError } from '../../domain/errors.js';
import { SOCKET_ERROR_CODES } from '../../socket-errors.js';
import { scrubText } from '../scrub.js';

interface DriverError {
  name?: unknown;
  message?: unknown;
  code?: unknown;
}

/** An error reply from the server (the connection still works), as opposed to a network failure. */
export function isReplyError(err: unknown): boolean {
  return (err as DriverError)?.name === 'ReplyError';
}

/** The error prefix Redis puts first in a reply (`NOPERM`, `WRONGPASS`, `ERR`); undefined for other failures. */
export function replyCode(err: unknown): string | undefined {
  if (!isReplyError(err)) return undefined;
  const message = (err as DriverError).message;
  return typeof message === 'string' ? /^([A-Z]+)\b/.exec(message)?.[1] : undefined;
}

/** Redis answers this to ACL SAVE when it was started without `aclfile`. */
export const NO_ACLFILE = /not configured to use an ACL file/;

/** ioredis's own messages for a connection that broke or never came (they carry no code). */
const UNREACHABLE_MESSAGES =
  /^(Connection is closed|Stream isn't writeable|connect ETIMEDOUT|Reached the max retries)/;

/**
 * What kind of failure a driver error is, for alerts: Stint's admin refused (WRONGPASS, NOAUTH), a right it lacks
 * (NOPERM), the server out of reach, or busy loading, or a replica (LOADING, BUSY, MASTERDOWN, READONLY).
 */
export function classify(err: unknown): ProviderFailureClass {
  const code = replyCode(err);
  if (code !== undefined) {
    if (code === 'WRONGPASS' || code === 'NOAUTH') return 'auth';
    if (code === 'NOPERM') return 'privilege';
    if (['LOADING', 'BUSY', 'MASTERDOWN', 'TRYAGAIN'].includes(code)) return 'transient';
    if (code === 'READONLY') return 'refused';
    const message = String((err as DriverError).message);
    if (NO_ACLFILE.test(message)) return 'refused';
    return 'unknown';
  }
  const sys = (err as DriverError)?.code;
  if (typeof sys === 'string' && SOCKET_ERROR_CODES.has(sys)) return 'unreachable';
  const message = (err as DriverError)?.message;
  if (typeof message === 'string' && UNREACHABLE_MESSAGES.test(message)) return 'unreachable';
  return 'unknown';
}

/** What an operator should do about a failure Redis explains badly. */
function hint(err: unknown): string {
  const message = String((err as DriverError)?.message ?? '');
  if (NO_ACLFILE.test(message))
    return ' (start Redis with an aclfile: without one, issued users would not survive a restart; docs/redis-target.md)';
  if (/error trying to save the ACLs/.test(message))
    return ' (Redis could not write its aclfile, see its log: an issue is undone, a revoke is retried)';
  if (replyCode(err) === 'WRONGPASS')
    return " (the target refused Stint's admin user: check its password and that it is on)";
  if (replyCode(err) === 'NOPERM')
    return " (Stint's admin user lacks a permission docs/redis-target.md lists)";
  return '';
}

/**
 * Removes secrets from a driver message: the known ones as the wrapper does (scrub.ts), and whatever looks like a
 * password rule or a URL's password, in case a server or driver echoed a command or URL.
 */
export function redact(text: string, secrets: readonly string[]): string {
  return scrubText(text, secrets)
    .replace(/([>#<!])[^\s'"]+/g, '$1[redacted]')
    .replace(/(\/\/[^/\s:@]*):[^@\s/]*@/g, '$1:[redacted]@');
}

/**
 * A provider failure as a StintError: what was being done and the driver's message with secrets removed. The
 * original error is not attached: ioredis keeps the command (and its arguments) on it.
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
  const code = (err as DriverError)?.code;
  const suffix = typeof code === 'string' && !raw.includes(code) && !isReplyError(err) ? ` (${code})` : '';
  const message = `redis target ${resourceId}: ${action} failed: ${redact(raw, secrets)}${suffix}${hint(err)}`;
  return new StintError('PROVIDER_ERROR', message, { resource: resourceId, class: classify(err) });
}
