import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';
import type { ApiErrorBody, ErrorCode } from './types';

/** A refusal as the API states it: the status, the stable code and the server's own message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'NETWORK',
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/**
 * The CSRF token of the cookie session (GET /auth/session): sent on every state change, which the server
 * refuses without it. Kept in memory only, never in storage.
 */
let csrfToken: string | null = null;
export const setCsrfToken = (token: string | null) => {
  csrfToken = token;
};

/** Called on a 401 from any call: the session ended (expired, signed out elsewhere, revoked). */
let onSignedOut: () => void = () => undefined;
export const whenSignedOut = (f: () => void) => {
  onSignedOut = f;
};

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

const csrf: Middleware = {
  onRequest({ request }) {
    if (!SAFE.has(request.method) && csrfToken) request.headers.set('x-csrf-token', csrfToken);
    return request;
  },
};

/** The typed client of the Stint API, same origin, cookie session. */
export const api = createClient<paths>({ baseUrl: window.location.origin, credentials: 'same-origin' });
api.use(csrf);

type Answer<T> = { data?: T; error?: unknown; response: Response };

/** Reads a coded error out of any answer; a body that is not the API's shape still gives status and text. */
function toError(status: number, body: unknown): ApiError {
  const e = (body as ApiErrorBody | undefined)?.error;
  if (e && typeof e.code === 'string') return new ApiError(status, e.code, e.message, e.details ?? {});
  return new ApiError(status, 'INTERNAL', `the server answered ${status}`);
}

/**
 * Unwraps an openapi-fetch answer: the data, or an ApiError with the server's code and message. A 401 also
 * tells the app the session is gone (it shows sign-in and comes back here after).
 */
export async function ok<T>(call: Promise<Answer<T>>): Promise<NonNullable<T>> {
  let answer: Answer<T>;
  try {
    answer = await call;
  } catch (e) {
    throw new ApiError(0, 'NETWORK', `the server could not be reached: ${(e as Error).message}`);
  }
  const { data, error, response } = answer;
  if (response.ok) return data as NonNullable<T>;
  const err = toError(response.status, error);
  if (response.status === 401) onSignedOut();
  throw err;
}

/** A fresh Idempotency-Key for one state change (the server answers a retry with the first answer). */
export const idempotencyKey = () => crypto.randomUUID();
