import { type ProviderFailureClass, StintError } from '../../domain/errors.js';
import { SOCKET_ERROR_CODES } from '../../socket-errors.js';
import { cancelledError } from '../provider.js';

/** The fields of an SDK v3 error Stint reads: its name (the service's error code) and what the SDK knew of HTTP. */
interface SdkError {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: number };
}

const AUTH = new Set([
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredToken',
  'ExpiredTokenException',
  'CredentialsProviderError',
]);
const PRIVILEGE = new Set(['AccessDenied', 'AccessDeniedException']);
const GONE = new Set(['NoSuchEntityException', 'NoSuchEntity', 'ResourceNotFoundException']);
const TRANSIENT = new Set([
  'Throttling',
  'ThrottlingException',
  'ConflictException',
  'ConcurrentModificationException',
  'ServiceFailureException',
  'InternalServerException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
]);
const UNREACHABLE = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

export const errorName = (err: unknown): string => {
  const name = (err as SdkError)?.name;
  return typeof name === 'string' ? name : '';
};

/** What kind of failure an SDK error is, for alerts and retries. */
export function classify(err: unknown): ProviderFailureClass {
  const name = errorName(err);
  const code = (err as SdkError)?.code;
  if (AUTH.has(name)) return 'auth';
  if (PRIVILEGE.has(name)) return 'privilege';
  if (GONE.has(name)) return 'gone';
  if (TRANSIENT.has(name)) return 'transient';
  if (UNREACHABLE.has(name) || (typeof code === 'string' && SOCKET_ERROR_CODES.has(code)))
    return 'unreachable';
  const status = (err as SdkError)?.$metadata?.httpStatusCode;
  if ((err as SdkError)?.$fault === 'server' || (status !== undefined && status >= 500)) return 'transient';
  return 'unknown';
}

/**
 * A failure as callers see it: cancelled when the signal is aborted, else what was being done and the service's
 * own error code and message. Configured secrets are the wrapper's to scrub; nothing here echoes a request.
 */
export function awsFailure(
  resourceId: string,
  action: string,
  err: unknown,
  signal: AbortSignal,
): StintError {
  if (err instanceof StintError) return err;
  if (signal.aborted) return cancelledError(`aws target ${resourceId}: ${action}`, signal);
  const name = errorName(err);
  const raw =
    typeof (err as SdkError)?.message === 'string' ? ((err as SdkError).message as string) : String(err);
  const code = (err as SdkError)?.code;
  const detail = name && !raw.startsWith(name) ? `${name}: ${raw}` : raw;
  const suffix = typeof code === 'string' && !detail.includes(code) ? ` (${code})` : '';
  return new StintError('PROVIDER_ERROR', `aws target ${resourceId}: ${action} failed: ${detail}${suffix}`, {
    resource: resourceId,
    class: classify(err),
  });
}

/** A refusal of Stint's own (bad grant, window AWS will not issue): no retry mends it. */
export function refusal(resourceId: string, message: string): StintError {
  return new StintError('PROVIDER_ERROR', `aws target ${resourceId}: ${message}`, {
    resource: resourceId,
    class: 'refused',
    permanent: true,
  });
}

/** The service answered with a refusal (a 4xx error): nothing was done, unlike a call whose outcome is unknown. */
export function refusedByService(err: unknown): boolean {
  const status = (err as SdkError)?.$metadata?.httpStatusCode;
  return status !== undefined && status >= 400 && status < 500 && classify(err) !== 'transient';
}
