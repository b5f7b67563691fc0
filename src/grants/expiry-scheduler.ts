import type { Clock } from '../domain/clock.js';

/** setTimeout's longest delay; later expiries are re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One timer per active grant, armed for the exact expiry instant, so access ends within milliseconds rather
 * than at the next poll. Timers are an optimisation over the durable due times in the store: the sweeper still
 * finds anything a timer missed (restart, another server's grant).
 */
export function createExpiryScheduler(clock: Clock, onDue: (requestId: string) => void) {
  const timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();

  function arm(id: string, at: number): void {
    const delay = Math.max(0, at - clock().getTime());
    const timer = setTimeout(
      () => {
        timers.delete(id);
        // Timers may fire a hair early against the wall clock; never end access before its instant.
        if (clock().getTime() < at) arm(id, at);
        else onDue(id);
      },
      Math.min(delay, MAX_TIMER_MS),
    );
    timer.unref();
    timers.set(id, { at, timer });
  }

  return {
    schedule(id: string, expiresAt: Date): void {
      const at = expiresAt.getTime();
      const existing = timers.get(id);
      if (existing?.at === at) return;
      if (existing) clearTimeout(existing.timer);
      arm(id, at);
    },
    cancel(id: string): void {
      const existing = timers.get(id);
      if (existing) clearTimeout(existing.timer);
      timers.delete(id);
    },
    size(): number {
      return timers.size;
    },
    stop(): void {
      for (const { timer } of timers.values()) clearTimeout(timer);
      timers.clear();
    },
  };
}

export type ExpiryScheduler = ReturnType<typeof createExpiryScheduler>;
