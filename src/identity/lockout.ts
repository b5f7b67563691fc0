import { isIPv4, isIPv6 } from 'node:net';

/**
 * Failure counters with back-off, per key: a client address (`ip:…`) or a presented credential id (`cred:…`),
 * never a user, so nobody can shut a person out by presenting their dead or guessed credentials.
 *
 * - A key's failures are forgotten after `maxDelayMs` without one; no success resets them (otherwise one valid
 *   request every few guesses keeps a guesser under the threshold for ever).
 * - From the `threshold`-th failure on, the key is held back: first for maxDelayMs / 64, doubling with each
 *   further failure, never longer than maxDelayMs. A pause, not a lock: it ends by itself.
 *
 * Kept in this process's memory: with several servers each counts its own, which still bounds guessing to
 * a few tries per pause and server.
 */
export interface Lockout {
  /** When the latest pause of these keys ends, or null when none is held back now. */
  heldUntil(keys: readonly string[], now: Date): Date | null;
  failure(keys: readonly string[], now: Date): void;
  /**
   * True for the first refusal of a key's current pause, false for the rest of it: a held-back client is
   * audited once per pause, so hammering during one cannot grow the audit trail without bound.
   */
  firstRefusal(key: string, now: Date): boolean;
}

/** The pause before the next try after `failures` failures (0 below the threshold). */
export function backoffMs(failures: number, opts: { threshold: number; maxDelayMs: number }): number {
  if (failures < opts.threshold) return 0;
  const first = Math.max(1000, Math.floor(opts.maxDelayMs / 64));
  const doublings = Math.min(failures - opts.threshold, 30);
  return Math.min(opts.maxDelayMs, first * 2 ** doublings);
}

export function createLockout(opts: { threshold: number; maxDelayMs: number; maxKeys?: number }): Lockout {
  const state = new Map<
    string,
    { failures: number; lastAt: number; heldUntil: number; reportedUntil: number }
  >();
  const maxKeys = opts.maxKeys ?? 100_000;
  return {
    heldUntil(keys, now) {
      let until = 0;
      for (const k of keys) {
        const s = state.get(k);
        if (s && s.heldUntil > now.getTime()) until = Math.max(until, s.heldUntil);
      }
      return until > 0 ? new Date(until) : null;
    },
    failure(keys, now) {
      const t = now.getTime();
      for (const k of keys) {
        let s = state.get(k);
        // A quiet spell as long as the longest pause forgives the past.
        if (s && t - s.lastAt > opts.maxDelayMs) s = undefined;
        s ??= { failures: 0, lastAt: t, heldUntil: 0, reportedUntil: 0 };
        s.failures += 1;
        s.lastAt = t;
        const pause = backoffMs(s.failures, opts);
        if (pause > 0) s.heldUntil = Math.max(s.heldUntil, t + pause);
        // Bound memory under a spray of addresses or ids: forget the oldest entry.
        if (!state.has(k) && state.size >= maxKeys) {
          const oldest = state.keys().next().value;
          if (oldest !== undefined) state.delete(oldest);
        }
        state.delete(k);
        state.set(k, s);
      }
    },
    firstRefusal(key, now) {
      const s = state.get(key);
      if (!s || s.heldUntil <= now.getTime()) return true;
      if (s.reportedUntil >= s.heldUntil) return false;
      s.reportedUntil = s.heldUntil;
      return true;
    },
  };
}

/** Whole seconds until `until`, at least 1: the Retry-After a held-back caller is told. */
export const retryAfterSeconds = (until: Date, now: Date): number =>
  Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000));

const PRESENTED_ID = /^(stints?)_([A-Za-z0-9_-]{16})\./;

/**
 * The counter key of a presented API token or session: its kind and public id, whether or not such a credential
 * exists. Null for something that is not shaped like one (only the address counts then).
 */
export function credentialKey(token: string): string | null {
  const m = PRESENTED_ID.exec(token);
  return m ? `cred:${m[1]}:${m[2]}` : null;
}

/**
 * The counter key of a client address. An IPv6 client usually holds a whole /64 (one router advertisement's
 * worth of addresses), so it is counted as that /64: per address it could step past any back-off.
 */
export function addressKey(ip: string | null): string {
  if (ip === null) return 'ip:?';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1] && isIPv4(mapped[1])) return `ip:${mapped[1]}`;
  if (!isIPv6(ip)) return `ip:${ip}`;
  const [head = '', tail = ''] = ip.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = ip.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = ip.includes('::')
    ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `ip6:${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
