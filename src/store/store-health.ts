import { StintError } from '../domain/errors.js';

/**
 * Whether Stint's own store answers. Every server in an HA pair depends on it, so losing it must make a server
 * say so (not ready, STORE_UNAVAILABLE) rather than hang or exit, and finding it again must be noticed at once.
 */
export interface StoreHealth {
  /** False from the moment a probe fails until one gets through again. */
  available(): boolean;
  /** The store answers a trivial query within `timeoutMs`, or this throws STORE_UNAVAILABLE (for /readyz). */
  check(timeoutMs: number): Promise<void>;
  /** Something failed the way an outage does: probe now, and keep probing with backoff while it lasts. */
  suspect(): void;
  /**
   * Why the store is out, when the last probe said so with a code of its own (STORE_FULL: the disk is full);
   * null while it answers or when the cause is plain unavailability.
   */
  problem(): StintError | null;
  /** Told `false` when an outage begins and `true` when the store answers again. */
  onChange(listener: (available: boolean) => void): () => void;
  close(): void;
}

export function storeUnavailable(): StintError {
  return new StintError('STORE_UNAVAILABLE', 'the store is unavailable: try again shortly');
}

/** What every write answers while the store's disk is full: the cause named, nothing changed, 503. */
export function storeFull(cause: string): StintError<'STORE_FULL'> {
  return new StintError(
    'STORE_FULL',
    `the store's disk is full (${cause}): nothing was changed; free space where the store's data lives`,
    { cause },
  );
}

/** Rejects with STORE_UNAVAILABLE once `ms` have passed; the work itself is bounded by the store's timeouts. */
export function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(storeUnavailable()), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

export interface MonitorOptions {
  /**
   * One round trip on a connection of its own, bounded: it must not wait behind a pool full of hung calls. A
   * StintError it throws (STORE_FULL) is what readiness and callers are told while the outage lasts.
   */
  probe: () => Promise<void>;
  /** A trivial query through the pool the application uses. */
  query: () => Promise<unknown>;
  /** Backoff between failed probes: doubles from min to max. The max bounds how late a return is noticed. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export function createStoreMonitor(opts: MonitorOptions): StoreHealth {
  const minMs = opts.minBackoffMs ?? 25;
  const maxMs = opts.maxBackoffMs ?? 100;
  const listeners = new Set<(available: boolean) => void>();
  let up = true;
  let cause: StintError | null = null;
  let probing = false;
  let closed = false;
  let wake: (() => void) | null = null;

  function set(next: boolean): void {
    if (up === next) return;
    up = next;
    for (const listener of listeners) {
      try {
        listener(next);
      } catch {
        // A listener's failure is its own; the others still hear of the change.
      }
    }
  }

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function probeUntilUp(): Promise<void> {
    let delay = minMs;
    try {
      while (!closed) {
        try {
          await opts.probe();
          cause = null;
          set(true);
          return;
        } catch (e) {
          cause = e instanceof StintError ? e : null;
          set(false);
        }
        await pause(delay);
        delay = Math.min(delay * 2, maxMs);
      }
    } finally {
      probing = false;
      wake = null;
    }
  }

  const health: StoreHealth = {
    available: () => up,
    async check(timeoutMs) {
      if (!up) throw cause ?? storeUnavailable();
      try {
        await within(opts.query(), timeoutMs);
      } catch (e) {
        health.suspect();
        throw e;
      }
    },
    suspect() {
      if (probing || closed) return;
      probing = true;
      void probeUntilUp();
    },
    problem: () => (up ? null : cause),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      closed = true;
      wake?.();
      listeners.clear();
    },
  };
  return health;
}
