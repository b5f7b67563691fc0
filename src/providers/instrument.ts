import type { Logger } from '../logger.js';
import {
  type CompleteRequest,
  type CredentialProvider,
  failureClass,
  isCancelled,
  type ListStandingRequest,
  NO_CANCEL,
  type ProviderMethod,
  type RemoveStandingRequest,
} from './provider.js';
import type { ProviderMetrics } from './provider-metrics.js';
import { createRevokeBatcher } from './revoke-batcher.js';
import { scrubbingLogger, scrubError, scrubValue } from './scrub.js';
import { createTargetQueue, type TargetQueue } from './target-queue.js';

/**
 * Per-call deadlines, counted from when the call gets its slot at the target (the queue's wait is not in them).
 * The issuer renews its claim while issue runs; revoke may wait out sessions (5 s) more than once; reads answer
 * a sweep or a probe.
 */
export const DEFAULT_DEADLINES_MS: Readonly<Record<ProviderMethod, number>> = {
  issue: 10_000,
  completeCredential: 10_000,
  revoke: 30_000,
  verifyRevoked: 10_000,
  listOwned: 15_000,
  listForeign: 15_000,
  // Reads every account and grant on the target, not only Stint's: allowed longer than the reconciler's lists.
  listStanding: 30_000,
  removeStanding: 15_000,
  ping: 5_000,
};

export interface InstrumentOptions {
  /** The resource the provider serves, named in every log line. */
  resource: string;
  logger: Logger;
  metrics?: ProviderMetrics;
  /** The kind's per-call deadlines (its descriptor's), over the defaults. */
  deadlinesMs?: Partial<Record<ProviderMethod, number>>;
  /** The resource's configured secrets: scrubbed from every error the wrapper passes on and every line it logs. */
  secrets?: readonly string[];
  /** Admission to the target (its concurrency, revocations first); one of the default size when absent. */
  queue?: TargetQueue;
}

/** Calls worth an info line when they succeed; reads are counted, not logged. */
const LOGGED: ReadonlySet<ProviderMethod> = new Set([
  'issue',
  'completeCredential',
  'revoke',
  'removeStanding',
]);
const MESSAGE: Partial<Record<ProviderMethod, string>> = {
  removeStanding: 'standing grant removed',
  issue: 'credential issued',
  completeCredential: 'credential completed from the user input',
  revoke: 'credential revoked',
};

/**
 * What of a call may be logged: every field of the request and result except `secret`, `kept` and the user's `input`, of
 * which only the field names are kept. Providers put what the user needs to connect there and nowhere else.
 */
export function loggable(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object') return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'kept') out.keptFields = v && typeof v === 'object' ? Object.keys(v).sort() : [];
    else if (k === 'secret') out.secretFields = v && typeof v === 'object' ? Object.keys(v).sort() : [];
    else if (k === 'input') out.inputFields = v && typeof v === 'object' ? Object.keys(v).sort() : [];
    else if (v instanceof Date) out[k] = v.toISOString();
    else if (Array.isArray(v) && v.length > 20) out[k] = `${v.length} items`;
    else out[k] = v;
  }
  return out;
}

/**
 * The one wrapper every provider runs in: a deadline per call (the kind's own, else the default) composed with
 * the caller's signal, one log line per issue or revoke and per failure (issued secrets left out, configured ones
 * scrubbed from every message), and counts and durations per kind and method. Whatever a provider throws leaves
 * here as a StintError with no configured secret in it.
 * Providers honour the signal; the wrapper does not race them, so a call that finished is never reported as
 * cancelled and a cancelled one has cleaned up before it answers.
 */
export function instrumentProvider(inner: CredentialProvider, opts: InstrumentOptions): CredentialProvider {
  const { resource, metrics } = opts;
  const secrets = opts.secrets ?? [];
  const logger = scrubbingLogger(opts.logger, secrets);
  const deadlines = { ...DEFAULT_DEADLINES_MS, ...opts.deadlinesMs };
  const kind = inner.kind;
  const complete = inner.completeCredential?.bind(inner);
  const standing = inner.listStanding?.bind(inner);
  const removeStanding = inner.removeStanding?.bind(inner);
  const queue = opts.queue ?? createTargetQueue(resource);
  const revokeMany = inner.revokeMany?.bind(inner);
  // Each outcome of a batch is logged and counted as its own revoke; the batch shares one deadline.
  const batcher = revokeMany
    ? createRevokeBatcher(queue, {
        one: (request, signal) => call('revoke', request, signal, (r, s) => inner.revoke(r, s), true),
        many: async (requests, signal) => {
          const answers = await call(
            'revoke',
            { principals: requests.length },
            signal,
            (_r, s) => revokeMany(requests, s),
            true,
          );
          return answers.map((answer, i) => {
            const request = requests[i];
            if (!(answer instanceof Error)) {
              if (request)
                logger.info(
                  { kind, resource, ...loggable(request), ...loggable(answer), batch: requests.length },
                  `${kind} ${MESSAGE.revoke}`,
                );
              return answer;
            }
            const err = scrubError(answer, secrets, `${kind} target ${resource}: revoke failed`);
            logger.warn(
              { kind, resource, method: 'revoke', ...loggable(request), error: err.message },
              `${kind} revoke failed`,
            );
            return err;
          });
        },
      })
    : undefined;

  async function call<Req, Res>(
    method: ProviderMethod,
    request: Req,
    signal: AbortSignal,
    run: (request: Req, signal: AbortSignal) => Promise<Res>,
    /** The caller already holds a slot at the target (the revoke batcher does). */
    held = false,
  ): Promise<Res> {
    const ms = deadlines[method];
    const deadline = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let admitted = false;
    const started = performance.now();
    const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
    try {
      if (!held) {
        if (!queue.tryAcquire()) await queue.acquire(method, signal);
        admitted = true;
      }
      timer = setTimeout(
        () => deadline.abort(new DOMException(`deadline of ${ms} ms passed`, 'TimeoutError')),
        ms,
      );
      // NO_CANCEL lives for the whole process: composing with it would only pile dependents onto it.
      const composed = signal === NO_CANCEL ? deadline.signal : AbortSignal.any([signal, deadline.signal]);
      const result = await run(request, composed);
      metrics?.record({ kind, method, ms: elapsed(), outcome: 'ok' });
      if (LOGGED.has(method)) {
        logger.info(
          { kind, resource, ...loggable(request), ...loggable(result), ms: elapsed() },
          `${kind} ${MESSAGE[method]}`,
        );
      }
      return result;
    } catch (thrown) {
      const err = scrubError(thrown, secrets, `${kind} target ${resource}: ${method} failed`);
      const cancelled = isCancelled(err);
      metrics?.record({
        kind,
        method,
        ms: elapsed(),
        outcome: cancelled ? 'cancelled' : 'failed',
        failureClass: failureClass(err),
      });
      logger.warn(
        {
          kind,
          resource,
          method,
          ...loggable(request),
          ms: elapsed(),
          error: err.message,
          ...(err.details ? { details: err.details } : {}),
        },
        `${kind} ${method} failed`,
      );
      throw err;
    } finally {
      clearTimeout(timer);
      if (admitted) queue.release();
    }
  }

  return {
    kind,
    principalFor: (requestId) => inner.principalFor(requestId),
    issue: (request, signal) => call('issue', request, signal, (r, s) => inner.issue(r, s)),
    ...(complete
      ? {
          completeCredential: (request: CompleteRequest, signal: AbortSignal) =>
            call('completeCredential', request, signal, complete),
        }
      : {}),
    revoke: (request, signal) =>
      batcher
        ? batcher.revoke(request, signal)
        : call('revoke', request, signal, (r, s) => inner.revoke(r, s)),
    verifyRevoked: (request, signal) =>
      call('verifyRevoked', request, signal, (r, s) => inner.verifyRevoked(r, s)),
    listOwned: (request, signal) => call('listOwned', request, signal, (r, s) => inner.listOwned(r, s)),
    listForeign: (request, signal) => call('listForeign', request, signal, (r, s) => inner.listForeign(r, s)),
    ...(standing
      ? {
          // The inventory is printed and exported: the configured secrets are scrubbed from it as from errors.
          listStanding: (request: ListStandingRequest, signal: AbortSignal) =>
            call('listStanding', request, signal, async (r, s) => {
              const result = await standing(r, s);
              return scrubValue(result, secrets) as typeof result;
            }),
        }
      : {}),
    ...(removeStanding
      ? {
          removeStanding: (request: RemoveStandingRequest, signal: AbortSignal) =>
            call('removeStanding', request, signal, removeStanding),
        }
      : {}),
    ping: (request, signal) => call('ping', request, signal, (r, s) => inner.ping(r, s)),
    close: () => inner.close(),
  };
}
