import type { Clock } from '../../domain/clock.js';
import type { Logger } from '../../logger.js';
import type { StintDatabase } from '../../store/database.js';
import { recordingStore } from '../recording-store.js';
import type { RecordingDb } from '../recording-tables.js';

/** A session this proxy carries, as the watcher sees it. */
export interface LiveSession {
  id: string;
  requestId: string;
  expiresAt: Date;
  end(reason: string): void;
}

export const HEARTBEAT_MS = 5_000;

/**
 * Ends sessions when their grant ends, wherever it ends: every `pollMs` one query reads the state of every live
 * session's request from the store all servers share, so a revoke approved on another server (or the expiry
 * sweep of any server) ends the session here within one poll. A timer per session ends it at its window's end
 * to the millisecond, store or no store. While a session lives, its row's heartbeat is refreshed: a stale one
 * tells every other server this proxy died (its recordings are then recovered).
 */
export function createSessionWatch(deps: {
  store: StintDatabase;
  db: RecordingDb;
  clock: Clock;
  logger: Logger;
  pollMs: number;
}) {
  const live = new Map<string, { session: LiveSession; timer: NodeJS.Timeout }>();
  let poller: NodeJS.Timeout | null = null;
  let beater: NodeJS.Timeout | null = null;
  let polling = false;

  async function poll(): Promise<void> {
    if (polling || live.size === 0) return;
    polling = true;
    try {
      const ids = [...new Set([...live.values()].map((l) => l.session.requestId))];
      const rows = await deps.store.db
        .selectFrom('requests')
        .select(['id', 'state', 'expires_at'])
        .where('id', 'in', ids)
        .execute();
      const byId = new Map(rows.map((r) => [r.id, r]));
      const now = deps.clock().getTime();
      for (const { session } of [...live.values()]) {
        const row = byId.get(session.requestId);
        if (!row) session.end('the grant is gone from the store');
        else if (row.state !== 'active') session.end(`grant ${row.state}`);
        else if (row.expires_at !== null && Number(row.expires_at) <= now) session.end('grant window ended');
      }
    } catch (err) {
      // The store is down: sessions keep their expiry timers; the next poll tries again.
      deps.logger.warn({ err: (err as Error).message }, 'ssh proxy: cannot read grant states');
    } finally {
      polling = false;
    }
  }

  return {
    add(session: LiveSession): void {
      const delay = Math.max(0, session.expiresAt.getTime() - deps.clock().getTime());
      // setTimeout holds at most 2^31-1 ms; a longer window is caught by the poll.
      const timer = setTimeout(() => session.end('grant window ended'), Math.min(delay, 2 ** 31 - 1));
      live.set(session.id, { session, timer });
    },
    remove(id: string): void {
      const entry = live.get(id);
      if (entry) clearTimeout(entry.timer);
      live.delete(id);
    },
    size: () => live.size,
    sessions: () => [...live.values()].map((l) => l.session),
    /** Polls now (tests, and a revoke this server made itself). */
    poll,
    start(): void {
      poller ??= setInterval(() => void poll(), deps.pollMs);
      beater ??= setInterval(() => {
        const ids = [...live.keys()];
        recordingStore.heartbeat(deps.db, ids, deps.clock().getTime()).catch((err: unknown) => {
          deps.logger.warn({ err: (err as Error).message }, 'ssh proxy: heartbeat not written');
        });
      }, HEARTBEAT_MS);
    },
    stop(): void {
      if (poller) clearInterval(poller);
      if (beater) clearInterval(beater);
      poller = null;
      beater = null;
    },
  };
}

export type SessionWatch = ReturnType<typeof createSessionWatch>;
