/**
 * Consecutive authentication failures per key (an IP address, a user): after `threshold` of them the key is
 * locked for `lockMs`, and a success clears it. Kept in this process's memory: with several servers each
 * counts its own, which still bounds guessing to threshold × servers per period.
 */
export interface Lockout {
  lockedUntil(keys: readonly string[], now: Date): Date | null;
  failure(keys: readonly string[], now: Date): void;
  success(keys: readonly string[]): void;
}

export function createLockout(opts: { threshold: number; lockMs: number; maxKeys?: number }): Lockout {
  const state = new Map<string, { failures: number; lockedUntil: number }>();
  const maxKeys = opts.maxKeys ?? 100_000;
  return {
    lockedUntil(keys, now) {
      let until = 0;
      for (const k of keys) {
        const s = state.get(k);
        if (s && s.lockedUntil > now.getTime()) until = Math.max(until, s.lockedUntil);
      }
      return until > 0 ? new Date(until) : null;
    },
    failure(keys, now) {
      for (const k of keys) {
        const s = state.get(k) ?? { failures: 0, lockedUntil: 0 };
        // A lock that ran out starts a new count.
        if (s.lockedUntil !== 0 && s.lockedUntil <= now.getTime()) {
          s.failures = 0;
          s.lockedUntil = 0;
        }
        s.failures += 1;
        if (s.failures >= opts.threshold) s.lockedUntil = now.getTime() + opts.lockMs;
        // Bound memory under a spray of addresses: forget the oldest entry.
        if (!state.has(k) && state.size >= maxKeys) {
          const oldest = state.keys().next().value;
          if (oldest !== undefined) state.delete(oldest);
        }
        state.set(k, s);
      }
    },
    success(keys) {
      for (const k of keys) state.delete(k);
    },
  };
}
