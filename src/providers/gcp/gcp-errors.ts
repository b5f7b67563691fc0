import { type ProviderFailureClass, StintError } from '../../domain/errors.js';
import { SOCKET_ERROR_CODES } from '../../socket-errors.js';
import { cancelledError } from '../provider.js';

/** What Stint reads of a gaxios error: the HTTP status, Google's error status, a socket code. */
interface ApiError {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  status?: unknown;
  response?: { status?: number; data?: { error?: { message?: string; status?: string } } };
}

export const httpStatus = (err: unknown): number | undefined => {
  const s = (err as ApiError)?.response?.status ?? (err as ApiError)?.status;
  return typeof s === 'number' ? s : undefined;
};

export const googleStatus = (err: unknown): string | undefined =>
  (err as ApiError)?.response?.data?.error?.status;

/** What kind of failure an API error is, for alerts and retries. */
export function classify(err: unknown): ProviderFailureClass {
  const status = httpStatus(err);
  if (status === 401) return 'auth';
  if (status === 403) return 'privilege';
  if (status === 404) return 'gone';
  if (status === 409 || status === 429 || (status !== undefined && status >= 500)) return 'transient';
  const code = (err as ApiError)?.code;
  const name = (err as ApiError)?.name;
  if ((typeof code === 'string' && SOCKET_ERROR_CODES.has(code)) || name === 'TimeoutError')
    return 'unreachable';
  const cause = (err as { cause?: { code?: unknown } })?.cause?.code;
  if (typeof cause === 'string' && SOCKET_ERROR_CODES.has(cause)) return 'unreachable';
  if (
    typeof (err as ApiError)?.message === 'string' &&
    /fetch failed|ECONNREFUSED|ECONNRESET|socket hang up/.test(String((err as ApiError).message))
  )
    return 'unreachable';
  return 'unknown';
}

/** A failure as callers see it: Google's own status and message, never a request body or header. */
export function gcpFailure(
  resourceId: string,
  action: string,
  err: unknown,
  signal: AbortSignal,
): StintError {
  if (err instanceof StintError) return err;
  if (signal.aborted) return cancelledError(`gcp target ${resourceId}: ${action}`, signal);
  const google = (err as ApiError)?.response?.data?.error;
  const status = httpStatus(err);
  const detail = google?.message
    ? `${google.status ?? status}: ${google.message}`
    : typeof (err as ApiError)?.message === 'string'
      ? String((err as ApiError).message)
      : String(err);
  return new StintError('PROVIDER_ERROR', `gcp target ${resourceId}: ${action} failed: ${detail}`, {
    resource: resourceId,
    class: classify(err),
  });
}

/** A refusal of Stint's own (a grant outside the project, a user with no member): no retry mends it. */
export function refusal(resourceId: string, message: string): StintError {
  return new StintError('PROVIDER_ERROR', `gcp target ${resourceId}: ${message}`, {
    resource: resourceId,
    class: 'refused',
    permanent: true,
  });
}
