import { cancelledError, NO_CANCEL, type RevokeRequest, type RevokeResult } from './provider.js';
import type { TargetQueue } from './target-queue.js';

/** Revocations handed to one revokeMany call at most: one transaction's worth on the target. */
export const MAX_REVOKE_BATCH = 512;

interface Pending {
  request: RevokeRequest;
  signal: AbortSignal;
  resolve(result: RevokeResult): void;
  reject(err: unknown): void;
}

export interface RevokeRunners {
  /** One revocation, its slot already held (the provider's own revoke, inside the wrapper's deadline and log). */
  one(request: RevokeRequest, signal: AbortSignal): Promise<RevokeResult>;
  /** Several, its slot already held: an outcome or an error per request, in order. */
  many(requests: RevokeRequest[], signal: AbortSignal): Promise<(RevokeResult | Error)[]>;
}

/**
 * Revocations of one target, gathered while its slots are busy: each time a slot frees, every revocation that
 * waited (up to MAX_REVOKE_BATCH) goes in one call. Alone, a revocation runs as before, at once; in a burst the
 * target sees a few batches instead of one sequence per credential.
 */
export function createRevokeBatcher(queue: TargetQueue, run: RevokeRunners) {
  const pending: Pending[] = [];
  let waiting = false;

  function take(): Pending[] {
    const batch: Pending[] = [];
    while (pending.length > 0 && batch.length < MAX_REVOKE_BATCH) {
      const next = pending.shift() as Pending;
      if (next.signal.aborted) next.reject(cancelledError(`revoke ${next.request.principal}`, next.signal));
      else batch.push(next);
    }
    return batch;
  }

  async function runHeld(): Promise<void> {
    const batch = take();
    try {
      const [first] = batch;
      if (!first) return;
      if (batch.length === 1) {
        await run.one(first.request, first.signal).then(first.resolve, first.reject);
        return;
      }
      // Callers share the server's shutdown signal; one that brought its own is cut by the deadline alone.
      const signal = batch.every((p) => p.signal === first.signal) ? first.signal : NO_CANCEL;
      try {
        const results = await run.many(
          batch.map((p) => p.request),
          signal,
        );
        batch.forEach((p, i) => {
          const r = results[i];
          if (r === undefined) p.reject(new Error(`revoke ${p.request.principal}: no answer in the batch`));
          else if (r instanceof Error) p.reject(r);
          else p.resolve(r);
        });
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    } finally {
      queue.release();
      pump();
    }
  }

  /**
   * Pumped once per turn of the event loop, not per call: the revocations of one expiry transaction arrive in
   * the same turn, and go to the target together rather than the first alone and the rest behind it.
   */
  let scheduled = false;
  function schedulePump(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      pump();
    });
  }

  function pump(): void {
    if (pending.length === 0 || waiting) return;
    if (queue.tryAcquire()) {
      void runHeld();
      return;
    }
    waiting = true;
    queue.acquire('revoke', NO_CANCEL).then(
      () => {
        waiting = false;
        void runHeld();
      },
      // The queue refused (busy): every revocation waiting is told, and retried by the revoker with backoff.
      (err: unknown) => {
        waiting = false;
        for (const p of pending.splice(0)) p.reject(err);
      },
    );
  }

  return {
    revoke(request: RevokeRequest, signal: AbortSignal): Promise<RevokeResult> {
      if (signal.aborted) return Promise.reject(cancelledError(`revoke ${request.principal}`, signal));
      return new Promise<RevokeResult>((resolve, reject) => {
        const entry: Pending = {
          request,
          signal,
          resolve: (r) => {
            signal.removeEventListener('abort', leave);
            resolve(r);
          },
          reject: (e) => {
            signal.removeEventListener('abort', leave);
            reject(e);
          },
        };
        // A caller that gives up while waiting leaves at once (a stopping server does not wait on a busy target).
        function leave() {
          const at = pending.indexOf(entry);
          if (at < 0) return;
          pending.splice(at, 1);
          reject(cancelledError(`revoke ${request.principal} (waiting for the target)`, signal));
        }
        signal.addEventListener('abort', leave, { once: true });
        pending.push(entry);
        schedulePump();
      });
    },
  };
}
