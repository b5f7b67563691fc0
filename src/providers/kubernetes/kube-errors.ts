import { type ProviderFailureClass, StintError } from '../../domain/errors.js';
import { SOCKET_ERROR_CODES } from '../../socket-errors.js';
import { scrubText } from '../scrub.js';

/**
 * The client's ApiException, by shape: importing the class would load the whole client at boot. A network error
 * has a string `code`, never a numeric one with a body.
 */
interface ApiExceptionLike extends Error {
  code: number;
  body: unknown;
}
function isApiException(err: unknown): err is ApiExceptionLike {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number' && 'body' in err;
}

export function statusOf(err: unknown): number | undefined {
  return isApiException(err) ? err.code : undefined;
}

/**
 * The API server's NotFound: a 404 whose body is a Status saying so. A 404 from anything else (a proxy, a wrong
 * server URL) says nothing about the object, and must never read as "already gone".
 */
export function isNotFound(err: unknown): boolean {
  if (statusOf(err) !== 404) return false;
  const status = statusBody(err);
  return status?.kind === 'Status' && status.reason === 'NotFound';
}
export const isConflict = (err: unknown) => statusOf(err) === 409;

interface StatusBody {
  kind?: unknown;
  reason?: unknown;
  message?: unknown;
}

/** The client hands an error status's body over as text: from an API server, a Status object in JSON. */
function statusBody(err: unknown): StatusBody | undefined {
  if (!isApiException(err)) return undefined;
  let body: unknown = err.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  return body !== null && typeof body === 'object' ? (body as StatusBody) : undefined;
}

function causeCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e !== null && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * What kind of failure it is, for alerts: Stint's credentials refused (401), a verb its RBAC lacks (403), the API
 * server out of reach, or a conflict or overload worth retrying.
 */
export function classify(err: unknown): ProviderFailureClass {
  const status = statusOf(err);
  if (status !== undefined) {
    if (status === 401) return 'auth';
    if (status === 403) return 'privilege';
    if (status === 409 || status === 429 || status >= 500) return 'transient';
    return 'unknown';
  }
  const code = causeCode(err);
  if (code !== undefined && (SOCKET_ERROR_CODES.has(code) || code.startsWith('UND_ERR')))
    return 'unreachable';
  if (err instanceof TypeError && /fetch failed/.test(err.message)) return 'unreachable';
  return 'unknown';
}

/** The API server's own words: a Status object's reason and message, never the headers the exception quotes. */
function describe(err: unknown): string {
  if (isApiException(err)) {
    const status = statusBody(err);
    if (status !== undefined) {
      const reason = typeof status.reason === 'string' ? `${status.reason}: ` : '';
      const message = typeof status.message === 'string' ? status.message : '';
      return `HTTP ${err.code} ${reason}${message}`.trim();
    }
    return `HTTP ${err.code}`;
  }
  const message = err instanceof Error ? err.message : String(err);
  const code = causeCode(err);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

/** A failure as callers see it, with this call's runtime secrets (a minted token) removed. */
export function providerError(
  resourceId: string,
  action: string,
  err: unknown,
  secrets: readonly string[],
): StintError {
  if (err instanceof StintError) return err;
  return new StintError(
    'PROVIDER_ERROR',
    `kubernetes target ${resourceId}: ${action} failed: ${scrubText(describe(err), secrets)}`,
    { resource: resourceId, class: classify(err) },
  );
}

/** Stint will not do it: a grant it cannot make safe, a window too short, an object it does not own. */
export function refusal(resourceId: string, message: string, permanent = false): StintError {
  return new StintError('PROVIDER_ERROR', `kubernetes target ${resourceId}: ${message}`, {
    resource: resourceId,
    class: 'refused',
    ...(permanent ? { permanent: true as const } : {}),
  });
}
