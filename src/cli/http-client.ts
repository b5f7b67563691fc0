import { CliError, usageError } from './cli-error.js';
import { newIdempotencyKey } from './idempotency-key.js';
import { type FetchLike, nodeHttpFetch } from './node-http-fetch.js';

export const DEFAULT_URL = 'http://127.0.0.1:7070';
const DEFAULT_TIMEOUT_MS = 30_000;

export type Query = Record<string, string | number | undefined>;

export interface HttpClient {
  get<T>(path: string, query?: Query): Promise<T>;
  /** A text/plain answer (a signed note), returned as sent. Errors still come as the JSON error body. */
  getText(path: string, query?: Query): Promise<string>;
  /** `body` undefined sends no body at all (and no content-type), as routes without a body expect. */
  post<T>(path: string, body?: unknown): Promise<T>;
  /**
   * A state change: sent with a fresh Idempotency-Key and sent again with the same key when its answer was lost
   * (connection cut, no answer in time) or the server could not serve it for a moment (503, the key still in
   * use), so a change that committed unseen is reported as the success it was, never done twice.
   */
  change<T>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
}

/**
 * Waits before each new attempt of a state change: seven attempts over about 16 s, longer than the server holds
 * an unanswered key (15 s), so a retry after the server or its store died mid-change finds the key free again.
 */
export const RETRY_DELAYS_MS: readonly number[] = [250, 500, 1000, 2000, 4000, 8000];

export interface HttpClientOptions {
  baseUrl: string;
  token: string | undefined;
  /** Tests pass their own; by default node:http(s) (see node-http-fetch.ts). */
  fetch?: FetchLike | undefined;
  timeoutMs?: number;
  /** Back-off between attempts of a state change (its length bounds the retries). */
  retryDelaysMs?: readonly number[];
}

/** The server's error body. Anything else on a non-2xx answer is reported as BAD_RESPONSE. */
interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

function isErrorBody(v: unknown): v is ErrorBody {
  if (v === null || typeof v !== 'object') return false;
  const e = (v as { error?: unknown }).error;
  if (e === null || typeof e !== 'object') return false;
  const { code, message } = e as Record<string, unknown>;
  return typeof code === 'string' && typeof message === 'string';
}

/** The URL as shown to a person: never user:password, which a URL can carry. */
function displayUrl(url: URL): string {
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** Socket failures after the request was sent: the server may have received it and committed. */
const CUT = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/**
 * Whether a failed call may have reached the server: a cut connection or no answer in time may hide a change
 * that committed. A refused connection (or a URL fetch will not call) reached nothing, and is reported at once.
 */
function mayHaveReached(e: unknown): boolean {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) return true;
  const cause = e instanceof Error ? (e.cause ?? e) : e;
  const code = (cause as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CUT.has(code);
}

/** Network failures after which the call may have reached the server (see mayHaveReached). */
const unanswered = new WeakSet<CliError>();

/** Worth the same call again: no answer to a call that may have arrived, a 503 (store or trail unavailable for a moment), or the key still held. */
function isPassing(e: unknown): boolean {
  if (!(e instanceof CliError)) return false;
  return unanswered.has(e) || e.status === 503 || e.code === 'IDEMPOTENCY_KEY_IN_USE';
}

function describeNetworkError(e: unknown, timeoutMs: number): string {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) {
    return `no answer within ${Math.round(timeoutMs / 1000)}s`;
  }
  // fetch (undici) wraps the socket error: TypeError('fetch failed', { cause: Error('connect ECONNREFUSED …') });
  // node:http rejects with the socket error itself.
  const cause = e instanceof Error ? (e.cause ?? e) : e;
  if (cause instanceof Error) {
    if (cause instanceof AggregateError && cause.errors[0] instanceof Error) return cause.errors[0].message;
    return cause.message;
  }
  return String(cause);
}

export function createHttpClient(opts: HttpClientOptions): HttpClient {
  let base: URL;
  try {
    base = new URL(opts.baseUrl);
  } catch {
    throw usageError(`"${opts.baseUrl}" is not a URL: give --url or STINT_URL like ${DEFAULT_URL}`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw usageError(`"${opts.baseUrl}" is not an http(s) URL`);
  }
  // Keep a path prefix (https://host/stint) rather than resolving "/v1/…" against the origin.
  const prefix = base.href.replace(/\/+$/, '');
  const shown = displayUrl(base);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const fetchImpl = opts.fetch ?? nodeHttpFetch;

  async function send<T>(
    method: string,
    path: string,
    query: Query | undefined,
    body: unknown,
    as: 'json' | 'text' = 'json',
    idempotencyKey?: string,
    extraHeaders?: Record<string, string>,
  ): Promise<T> {
    const url = new URL(prefix + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = {
      ...extraHeaders,
      accept: as === 'json' ? 'application/json' : 'text/plain, application/json;q=0.5',
    };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;

    let res: Awaited<ReturnType<FetchLike>>;
    let text: string;
    try {
      res = await fetchImpl(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (e) {
      const error = new CliError(
        'UNREACHABLE',
        `cannot reach Stint at ${shown}: ${describeNetworkError(e, timeoutMs)} (is the server running? set --url or STINT_URL)`,
      );
      if (mayHaveReached(e)) unanswered.add(error);
      throw error;
    }

    if (res.ok && as === 'text') return text as T;

    let parsed: unknown;
    let isJson = true;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      isJson = false;
    }

    if (res.ok) {
      if (!isJson) {
        throw new CliError(
          'BAD_RESPONSE',
          `${method} ${path} answered ${res.status} with a body that is not JSON`,
          {
            status: res.status,
          },
        );
      }
      return parsed as T;
    }
    if (isJson && isErrorBody(parsed)) {
      const { code, message, details } = parsed.error;
      const hint =
        code === 'UNAUTHENTICATED' && !opts.token ? ' (no token given: set STINT_TOKEN or --token)' : '';
      throw new CliError(code, message + hint, { details, status: res.status });
    }
    throw new CliError(
      'BAD_RESPONSE',
      `${method} ${path} failed with HTTP ${res.status} ${res.statusText} and no Stint error body (is ${shown} a Stint server?)`,
      { status: res.status },
    );
  }

  const delays = opts.retryDelaysMs ?? RETRY_DELAYS_MS;
  async function change<T>(path: string, body: unknown, headers?: Record<string, string>): Promise<T> {
    const key = newIdempotencyKey();
    for (let attempt = 0; ; attempt++) {
      try {
        return await send<T>('POST', path, undefined, body, 'json', key, headers);
      } catch (e) {
        const delay = delays[attempt];
        if (!isPassing(e) || delay === undefined) throw e;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  return {
    change,
    get: (path, query) => send('GET', path, query, undefined),
    getText: (path, query) => send<string>('GET', path, query, undefined, 'text'),
    post: (path, body) => send('POST', path, undefined, body),
  };
}
