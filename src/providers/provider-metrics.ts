import type { ProviderFailureClass } from '../domain/errors.js';
import type { ProviderMethod } from './provider.js';

/** Calls of one method on one kind of target: how many, how many failed, and how long they took. */
export interface ProviderCallStats {
  kind: string;
  method: ProviderMethod;
  calls: number;
  failures: number;
  /** Of the failures, those cut by their deadline or the caller. */
  cancelled: number;
  /** Of the failures, how many of each class (auth, privilege, unreachable …): what an alert rule keys on. */
  failuresByClass: Partial<Record<ProviderFailureClass, number>>;
  totalMs: number;
  maxMs: number;
}

export interface ProviderMetrics {
  record(call: {
    kind: string;
    method: ProviderMethod;
    ms: number;
    outcome: 'ok' | 'failed' | 'cancelled';
    /** For a failure: the class its provider gave it. */
    failureClass?: ProviderFailureClass;
  }): void;
  /** A copy, sorted by kind then method: for an operations module to publish. */
  snapshot(): ProviderCallStats[];
}

/** Counts and durations kept in memory, per kind and method. Small on purpose: a Prometheus export reads it. */
export function createProviderMetrics(): ProviderMetrics {
  const byKey = new Map<string, ProviderCallStats>();
  return {
    record({ kind, method, ms, outcome, failureClass }) {
      const key = `${kind}\u0000${method}`;
      let stats = byKey.get(key);
      if (!stats) {
        stats = {
          kind,
          method,
          calls: 0,
          failures: 0,
          cancelled: 0,
          failuresByClass: {},
          totalMs: 0,
          maxMs: 0,
        };
        byKey.set(key, stats);
      }
      stats.calls += 1;
      if (outcome !== 'ok') stats.failures += 1;
      if (outcome === 'cancelled') stats.cancelled += 1;
      if (outcome !== 'ok') {
        const c = failureClass ?? (outcome === 'cancelled' ? 'cancelled' : 'unknown');
        stats.failuresByClass[c] = (stats.failuresByClass[c] ?? 0) + 1;
      }
      stats.totalMs += ms;
      stats.maxMs = Math.max(stats.maxMs, ms);
    },
    snapshot() {
      return [...byKey.values()]
        .map((s) => ({ ...s, failuresByClass: { ...s.failuresByClass } }))
        .sort((a, b) => a.kind.localeCompare(b.kind) || a.method.localeCompare(b.method));
    },
  };
}
