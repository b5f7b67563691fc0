import { type ProviderFailureClass, StintError } from '../../domain/errors.js';
import { cancelledError } from '../provider.js';
import { LockAborted } from './file-lock.js';

/** What a file-system failure on the state directory or the KRL means for alerts and retries. */
function classify(err: unknown): ProviderFailureClass {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return 'privilege';
  if (code === 'ENOSPC' || code === 'EMFILE' || code === 'ENFILE' || code === 'EAGAIN' || code === 'EBUSY') {
    return 'transient';
  }
  return 'unknown';
}

/**
 * A failure as callers see it: cancelled when the signal aborted (or the lock wait was given up), a StintError
 * as it is, anything else (the file system's) as PROVIDER_ERROR with its code. None carries key material: the
 * provider never puts any in a message, and the wrapper scrubs the configured key besides.
 */
export function sshFailure(
  resourceId: string,
  action: string,
  err: unknown,
  signal: AbortSignal,
): StintError {
  const what = `ssh target ${resourceId}: ${action}`;
  if (signal.aborted || err instanceof LockAborted) return cancelledError(what, signal);
  if (err instanceof StintError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return new StintError('PROVIDER_ERROR', `${what}: ${code ? `${code}: ` : ''}${message}`, {
    resource: resourceId,
    class: classify(err),
  });
}

/** The provider will not act: a retry cannot change that (another store's grant, a grant the hosts refuse). */
export function refused(resourceId: string, message: string, permanent = false): StintError {
  return new StintError('PROVIDER_ERROR', `ssh target ${resourceId}: ${message}`, {
    resource: resourceId,
    class: 'refused',
    ...(permanent ? { permanent: true as const } : {}),
  });
}
