import { StintError } from '../domain/errors.js';
import { cancelledError, type ProviderMethod } from './provider.js';

/** What ends access goes first (and the readiness probe, which is short): a revocation never waits behind a burst of issuances on the same target. */
const URGENT: ReadonlySet<ProviderMethod> = new Set(['revoke', 'verifyRevoked', 'ping']);

/** Calls on one target at once when its kind does not say (a four-connection admin pool). */
export const DEFAULT_TARGET_CONCURRENCY = 4;
/** Calls waiting on one target beyond which new ones are refused as busy: memory stays bounded. */
export const DEFAULT_TARGET_QUEUE = 10_000;

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
  signal: AbortSignal;
  onAbort(): void;
}

/**
 * Admission to one target: at most `slots` calls run at once (the size of the kind's admin pool), the rest wait
 * here in order, revocations ahead of everything else. Without it a burst (500 expiries in one second, a soak of
 * approvals) waited inside the driver's pool, whose connect timeout then failed the calls that waited longest.
 * A call's deadline starts when it gets its slot; while it waits, only its caller's signal (shutdown) ends it.
 */
export function createTargetQueue(
  resource: string,
  slots = DEFAULT_TARGET_CONCURRENCY,
  maxQueued = DEFAULT_TARGET_QUEUE,
) {
  let running = 0;
  const urgent: Waiter[] = [];
  const normal: Waiter[] = [];

  function next(): void {
    while (running < slots) {
      const waiter = urgent.shift() ?? normal.shift();
      if (!waiter) return;
      waiter.signal.removeEventListener('abort', waiter.onAbort);
      running += 1;
      waiter.resolve();
    }
  }

  return {
    /** Takes a slot if one is free now, without waiting a turn of the event loop (as a call was before). */
    tryAcquire(): boolean {
      if (running >= slots) return false;
      running += 1;
      return true;
    },
    /** Waits for a slot; the caller must `release()` once its call has ended, whatever the outcome. */
    acquire(method: ProviderMethod, signal: AbortSignal): Promise<void> {
      if (signal.aborted) return Promise.reject(cancelledError(`${method} on ${resource}`, signal));
      if (running < slots) {
        running += 1;
        return Promise.resolve();
      }
      if (urgent.length + normal.length >= maxQueued) {
        return Promise.reject(
          new StintError(
            'PROVIDER_ERROR',
            `target ${resource} is busy: ${maxQueued} calls already wait for it`,
            { resource, class: 'unreachable' },
          ),
        );
      }
      const lane = URGENT.has(method) ? urgent : normal;
      return new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          resolve,
          reject,
          signal,
          onAbort: () => {
            const at = lane.indexOf(waiter);
            if (at >= 0) lane.splice(at, 1);
            reject(cancelledError(`${method} on ${resource} (waiting for the target)`, signal));
          },
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
        lane.push(waiter);
      });
    },
    release(): void {
      running -= 1;
      next();
    },
    /** Calls waiting for a slot now (a metric, and what back-pressure reads). */
    waiting(): number {
      return urgent.length + normal.length;
    },
    running(): number {
      return running;
    },
  };
}

export type TargetQueue = ReturnType<typeof createTargetQueue>;
