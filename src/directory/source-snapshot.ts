import type { DirectoryUser } from '../policy/policy-types.js';
import type { DirectorySource, SourceHealth } from './directory.js';

/**
 * The part every directory source shares: the last good snapshot, a version that changes only when the snapshot
 * does, the listeners told about a change, and when the source last loaded and why it last failed. A failed load
 * keeps the last good snapshot.
 */
export function createSourceSnapshot(name: string, clock: () => Date) {
  let users: ReadonlyMap<string, DirectoryUser> = new Map();
  let suspended: ReadonlySet<string> = new Set();
  let generation = 0;
  let fingerprint = '';
  let lastSuccessAt: Date | null = null;
  let error: string | null = null;
  const listeners: (() => void)[] = [];

  return {
    /** The DirectorySource members that read the snapshot. */
    source: {
      name,
      users: () => users,
      suspended: () => suspended,
      version: () => String(generation),
      subscribe(listener: () => void) {
        listeners.push(listener);
      },
    } satisfies Omit<DirectorySource, 'health'>,
    /** Health as most sources report it: ok once loaded, until a load fails. */
    health: (): SourceHealth => ({
      source: name,
      ok: error === null && lastSuccessAt !== null,
      lastSuccessAt: lastSuccessAt?.toISOString() ?? null,
      error,
      users: users.size,
    }),
    lastSuccessAt: () => lastSuccessAt,
    error: () => error,
    /** A load succeeded: keep what it found, and tell listeners only if it differs from what was there. */
    loaded(next: ReadonlyMap<string, DirectoryUser>, nextSuspended: ReadonlySet<string> = new Set()): void {
      lastSuccessAt = clock();
      error = null;
      const print = JSON.stringify([[...next.values()], [...nextSuspended].sort()]);
      if (print === fingerprint) return;
      fingerprint = print;
      users = next;
      suspended = nextSuspended;
      generation++;
      for (const l of listeners) l();
    },
    failed(message: string): void {
      error = message;
    },
  };
}
