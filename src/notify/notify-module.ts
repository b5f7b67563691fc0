import { listAudit } from '../audit/audit-store.js';
import type { AuditWriter } from '../audit/audit-writer.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Logger } from '../logger.js';
import type { StintModule } from '../module.js';
import { NOTIFICATION_DEFAULTS } from '../policy/notifications-schema.js';
import type { NotificationsPolicy } from '../policy/notifications-types.js';
import type { PolicySource } from '../policy/policy-source.js';
import type { StintDatabase } from '../store/database.js';
import type { RequestStore } from '../store/request-store.js';
import { createAckTokens } from './ack.js';
import type { ChannelSet } from './channels/channel.js';
import { type Env, resolveChannels } from './channels/resolve.js';
import { createAuditCursor } from './cursor.js';
import { createDeliveryStore, type DeliveryRow } from './deliveries.js';
import { createDispatcher } from './dispatcher.js';
import { createFanout } from './fanout.js';
import { render } from './message.js';
import { createNotifyCounters, notifyMetrics } from './notify-metrics.js';
import { NOTIFY_ROUTE_ACCESS, notifyRoutes } from './notify-routes.js';
import { createNotifyService } from './notify-service.js';
import { createReminders } from './reminders.js';

/** Events routed per cursor turn (one transaction). */
const ROUTE_BATCH = 200;
const REMINDERS_MS = 15_000;
/**
 * How often the trail's head is looked at between sweep ticks: one single-row read, so an alert leaves within
 * about this long of its commit rather than within a sweep tick (500 ms by default, and a lane can miss a tick).
 */
const WATCH_MS = 100;

export interface NotifyModuleDeps {
  store: StintDatabase;
  audit: AuditWriter;
  requests: RequestStore;
  /** The policy in force, with the merged directory (recipients' e-mail addresses come from it). */
  policy: PolicySource;
  secrets: SecretBox;
  clock: () => Date;
  logger: Logger;
  /** Where channel secrets are read from, once per policy loaded; the process's environment by default. */
  env?: Env;
  /** How often the trail's head is checked for new events between sweeps (WATCH_MS). */
  watchMs?: number;
}

/**
 * Notifications: a reader of the audit trail (the outbox) after a durable cursor, which routes each event to
 * the channels the policy names for its audiences, and a dispatcher that delivers each routed message at least
 * once, per channel, with back-off, from committed rows only. Nothing here runs inside a grant or a request:
 * a receiver that is slow, down or gone delays nobody's access, only its own messages.
 */
export function createNotifyModule(deps: NotifyModuleDeps) {
  const { store, logger } = deps;
  const env = deps.env ?? process.env;
  const cursor = createAuditCursor({ store, name: 'notify' });
  const deliveries = createDeliveryStore(store);
  const ack = createAckTokens({ store, secrets: deps.secrets });
  const counters = createNotifyCounters();

  // Channel secrets are read once per policy loaded. The first policy's are read here, so a missing variable
  // stops the boot (CONFIG_INVALID naming it); the server's reload checks a new policy's before swapping it in.
  let resolved: { from: NotificationsPolicy | undefined; channels: ChannelSet } = {
    from: deps.policy.current().notifications,
    channels: resolveChannels(deps.policy.current().notifications, env, deps.clock),
  };
  const channels = (): ChannelSet => {
    const current = deps.policy.current().notifications;
    if (current !== resolved.from) {
      try {
        resolved = { from: current, channels: resolveChannels(current, env, deps.clock) };
      } catch (err) {
        // Only reachable when a policy was swapped in without the server's check: keep sending as before.
        logger.error(
          { err },
          'notification channels of the new policy cannot be read; keeping the previous ones',
        );
        resolved = { from: current, channels: resolved.channels };
      }
    }
    return resolved.channels;
  };
  const retry = () => deps.policy.current().notifications?.retry ?? NOTIFICATION_DEFAULTS.retry;

  const fanout = createFanout({
    policy: deps.policy,
    requests: deps.requests,
    deliveries,
    clock: deps.clock,
  });
  const renderRow = async (row: DeliveryRow) => {
    const [event] = await listAudit(store.db, { afterSeq: row.event_seq - 1, limit: 1 });
    if (!event || event.seq !== row.event_seq || event.body === null) return null;
    const policy = deps.policy.current();
    return render({
      row,
      event: event.body,
      deployment: policy.settings.deployment,
      publicUrl: policy.notifications?.publicUrl ?? null,
      users: policy.users,
      ackToken: await ack.token(row.id),
    });
  };
  const dispatcher = createDispatcher({
    deliveries,
    channels,
    retry,
    render: renderRow,
    clock: deps.clock,
    logger,
    onDelivered: (row) => counters.delivered.set(row.channel, (counters.delivered.get(row.channel) ?? 0) + 1),
    onFailed: (row) =>
      counters.failedAttempts.set(row.channel, (counters.failedAttempts.get(row.channel) ?? 0) + 1),
  });
  const reminders = createReminders({ store, audit: deps.audit, policy: deps.policy, clock: deps.clock });
  const service = createNotifyService({ store, audit: deps.audit, deliveries, ack, clock: deps.clock });

  /** Routes everything committed since the cursor, batch by batch, then starts sending what that made due. */
  async function routeAll(signal: AbortSignal): Promise<number> {
    let routed = 0;
    for (;;) {
      const turn = await cursor.turn(ROUTE_BATCH, fanout.handle);
      routed += turn.handled;
      counters.routed += turn.handled;
      if (!turn.held || turn.advanced < ROUTE_BATCH || signal.aborted) break;
    }
    await dispatcher.pump();
    return routed;
  }
  // One routing pass at a time in this server (the sweep's and the watcher's); the cursor's lock orders servers.
  let routing: Promise<number> | null = null;
  const route = (signal: AbortSignal): Promise<number> => {
    routing ??= routeAll(signal).finally(() => {
      routing = null;
    });
    return routing;
  };

  /** Between sweep ticks: a look at the trail's size, and a routing pass when it grew. */
  let watcher: NodeJS.Timeout | undefined;
  let seenSize = -1;
  let watchStop = new AbortController();
  async function watch(): Promise<void> {
    if (routing || !store.health.available()) return;
    const head = await store.db
      .selectFrom('audit_head')
      .select('size')
      .where('id', '=', 1)
      .executeTakeFirst();
    const size = Number(head?.size ?? 0);
    if (size === seenSize) return;
    seenSize = size;
    await route(watchStop.signal);
  }

  const module: StintModule = {
    name: 'notify',
    jobs: [
      {
        async start() {
          dispatcher.start();
          watchStop = new AbortController();
          watcher = setInterval(() => {
            watch().catch((err: unknown) =>
              logger.error({ err }, 'watching the audit trail for notifications failed'),
            );
          }, deps.watchMs ?? WATCH_MS);
          watcher.unref();
        },
        async stop() {
          clearInterval(watcher);
          watchStop.abort();
          await routing?.catch(() => undefined);
          await dispatcher.stop();
        },
      },
    ],
    sweeps: [
      { name: 'notify.route', run: route },
      // Retries come due on their own clock; a pump is cheap when nothing is due.
      { name: 'notify.deliver', run: () => dispatcher.pump() },
      { name: 'notify.reminders', everyMs: REMINDERS_MS, run: (signal) => reminders.run(signal) },
    ],
    routes: [{ plugin: notifyRoutes(service), access: NOTIFY_ROUTE_ACCESS }],
    metrics: notifyMetrics(cursor, deliveries, counters),
  };

  return {
    service,
    cursor,
    deliveries,
    dispatcher,
    ack,
    /** Routes and starts sending now (tests; the sweep does it every tick). */
    /**
     * Routes what is committed now and starts sending it (tests; the sweep and the watcher do it on their own). A
     * pass already running may have started before the caller's event committed: it is let finish first.
     */
    async route(): Promise<number> {
      await routing?.catch(() => undefined);
      return route(new AbortController().signal);
    },
    reminders: (signal = new AbortController().signal) => reminders.run(signal),
    channels,
    counters,
    module,
  };
}

export type NotifyModule = ReturnType<typeof createNotifyModule>;
