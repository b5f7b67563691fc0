import type { AuditEventBody } from '../audit/audit-event.js';
import type { Logger } from '../logger.js';
import { NOTIFICATION_DEFAULTS } from '../policy/notifications-schema.js';
import type { NotificationsPolicy } from '../policy/notifications-types.js';
import { scrubText } from '../providers/scrub.js';
import { type Channel, type ChannelSet, DeliveryFailure } from './channels/channel.js';
import type { DeliveryRow, DeliveryStore } from './deliveries.js';
import type { NotificationMessage } from './message.js';

/** Extra lease beyond an attempt's own time-out, so a live attempt is never taken over. */
const LEASE_MARGIN_MS = 5_000;
/** How long stopping lets attempts in flight finish before cutting them. */
const STOP_GRACE_MS = 2_000;
/** Longest error text kept on a delivery row. */
const MAX_ERROR = 300;

export interface DispatcherDeps {
  deliveries: DeliveryStore;
  channels(): ChannelSet;
  retry(): NotificationsPolicy['retry'];
  /** The message of a delivery, or null when its event can no longer be read (purged). */
  render(row: DeliveryRow): Promise<NotificationMessage | null>;
  clock: () => Date;
  logger: Logger;
  onDelivered?(row: DeliveryRow, channel: Channel, event: AuditEventBody): void;
  onFailed?(row: DeliveryRow): void;
}

/** Exponential back-off from `first`, doubling per attempt, capped at `max` (seconds in, ms out). */
export function backoffMs(attempts: number, retry: NotificationsPolicy['retry']): number {
  const exp = retry.firstSeconds * 2 ** Math.max(0, attempts - 1);
  return Math.min(exp, retry.maxSeconds) * 1000;
}

function errorText(e: unknown, channel: Channel | null): string {
  const raw =
    e instanceof DeliveryFailure
      ? e.message
      : `unexpected failure: ${e instanceof Error ? e.message : String(e)}`;
  return scrubText(raw, channel?.secrets ?? []).slice(0, MAX_ERROR);
}

/**
 * Sends due deliveries, each channel on its own: at most `concurrency` attempts in flight per channel on this
 * server, each bounded by the channel's time-out. `pump()` only starts attempts and returns, so the sweep that
 * calls it never waits on a receiver, and a slow or dead receiver fills its own channel's slots and nothing else.
 * An attempt that fails is due again after the back-off; one still failing `giveUpAfter` after the event was
 * routed is marked failed.
 */
export function createDispatcher(deps: DispatcherDeps) {
  const inFlight = new Map<string, number>();
  const attempts = new Set<Promise<void>>();
  const pumping = new Map<string, boolean>();
  const again = new Set<string>();
  let shutdown = new AbortController();
  let stopped = false;

  async function attempt(row: DeliveryRow, claim: string, channel: Channel | null): Promise<void> {
    const started = deps.clock().getTime();
    const timeout = AbortSignal.timeout(channel?.timeoutMs ?? NOTIFICATION_DEFAULTS.timeoutSeconds * 1000);
    const signal = AbortSignal.any([timeout, shutdown.signal]);
    try {
      if (channel === null)
        throw new DeliveryFailure(`channel "${row.channel}" is not in the policy this server runs`);
      const message = await deps.render(row);
      if (message === null) throw new DeliveryFailure('the event can no longer be read (purged)');
      await channel.send(message, signal);
      await deps.deliveries.delivered(row.id, claim, deps.clock().getTime());
      deps.onDelivered?.(row, channel, message.event);
    } catch (e) {
      if (shutdown.signal.aborted && !timeout.aborted) {
        // Stopping, not failing: the row goes back untried, due at once for whichever server runs next.
        await deps.deliveries.release(row.id, claim).catch(() => undefined);
        return;
      }
      const now = deps.clock().getTime();
      const retry = deps.retry();
      const tries = row.attempts + 1;
      const giveUp = now - row.created_at >= retry.giveUpAfterSeconds * 1000;
      const error = errorText(e, channel);
      deps.onFailed?.(row);
      await deps.deliveries.attemptFailed(row.id, claim, {
        error,
        nextAt: now + backoffMs(tries, retry),
        giveUp,
      });
      deps.logger.warn(
        {
          delivery: row.id,
          channel: row.channel,
          attempts: tries,
          error,
          tookMs: now - started,
          gaveUp: giveUp,
        },
        giveUp ? 'notification delivery given up' : 'notification delivery failed; will retry',
      );
    }
  }

  function launch(row: DeliveryRow, claim: string, channel: Channel | null): void {
    inFlight.set(row.channel, (inFlight.get(row.channel) ?? 0) + 1);
    const p = attempt(row, claim, channel)
      .catch((err: unknown) =>
        deps.logger.error({ err, delivery: row.id }, 'notification attempt could not be recorded'),
      )
      .finally(() => {
        inFlight.set(row.channel, (inFlight.get(row.channel) ?? 1) - 1);
        attempts.delete(p);
        // A slot is free: fill it from what is due, without waiting for the next sweep.
        if (!stopped) void pumpChannel(row.channel);
      });
    attempts.add(p);
  }

  async function pumpChannel(name: string): Promise<void> {
    if (pumping.get(name)) {
      again.add(name);
      return;
    }
    pumping.set(name, true);
    try {
      do {
        again.delete(name);
        if (stopped) return;
        const channel = deps.channels().get(name) ?? null;
        const limit = channel?.concurrency ?? 1;
        const free = limit - (inFlight.get(name) ?? 0);
        if (free <= 0) return;
        const now = deps.clock().getTime();
        const leaseMs = (channel?.timeoutMs ?? NOTIFICATION_DEFAULTS.timeoutSeconds * 1000) + LEASE_MARGIN_MS;
        const { claim, rows } = await deps.deliveries.claim(name, free, now, leaseMs);
        for (const row of rows) launch(row, claim, channel);
        if (rows.length === free) again.add(name);
      } while (again.has(name));
    } catch (err) {
      deps.logger.error({ err, channel: name }, 'claiming notification deliveries failed');
    } finally {
      pumping.set(name, false);
    }
  }

  return {
    /** Starts attempts for everything due now, channel by channel; resolves once they are started, not sent. */
    async pump(): Promise<number> {
      if (stopped) return 0;
      const names = await deps.deliveries.dueChannels(deps.clock().getTime());
      const before = attempts.size;
      await Promise.all(names.map((n) => pumpChannel(n)));
      return attempts.size - before;
    },
    /** Attempts in flight on this server, per channel. */
    inFlight: (): ReadonlyMap<string, number> => inFlight,
    /** Resolves when no attempt is in flight (tests, benchmarks). */
    async idle(): Promise<void> {
      while (attempts.size > 0) await Promise.allSettled([...attempts]);
    },
    start(): void {
      stopped = false;
      shutdown = new AbortController();
    },
    /**
     * Lets attempts in flight finish for STOP_GRACE_MS, then cuts them (their rows go back untried, due at once
     * for the next server) and waits for that to be recorded.
     */
    async stop(): Promise<void> {
      stopped = true;
      const cut = setTimeout(() => shutdown.abort(), STOP_GRACE_MS);
      try {
        while (attempts.size > 0) await Promise.allSettled([...attempts]);
      } finally {
        clearTimeout(cut);
        shutdown.abort();
      }
    },
  };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
