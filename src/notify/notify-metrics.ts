import type { MetricSource } from '../module.js';
import type { AuditCursor } from './cursor.js';
import type { DeliveryStore } from './deliveries.js';

export interface NotifyCounters {
  /** Events routed by this server. */
  routed: number;
  /** Deliveries this server sent and had accepted, per channel. */
  delivered: Map<string, number>;
  /** Failed attempts on this server, per channel. */
  failedAttempts: Map<string, number>;
}

export function createNotifyCounters(): NotifyCounters {
  return { routed: 0, delivered: new Map(), failedAttempts: new Map() };
}

const perChannel = (m: Map<string, number>) =>
  [...m].map(([channel, value]) => ({ labels: { channel }, value }));

/** The backlog (events not yet routed, deliveries not yet sent) from the store; attempts from this server. */
export function notifyMetrics(
  cursor: AuditCursor,
  deliveries: DeliveryStore,
  counters: NotifyCounters,
): MetricSource[] {
  return [
    {
      name: 'stint_notify_backlog_events',
      help: 'Audit events recorded but not yet routed to channels',
      type: 'gauge',
      async collect() {
        const { seq, size } = await cursor.position();
        return [{ value: Math.max(0, size - 1 - seq) }];
      },
    },
    {
      name: 'stint_notify_deliveries',
      help: 'Notification deliveries by channel and status (pending is the delivery backlog)',
      type: 'gauge',
      async collect() {
        return (await deliveries.counts()).map((c) => ({
          labels: { channel: c.channel, status: c.status },
          value: c.count,
        }));
      },
    },
    {
      name: 'stint_notify_routed_events_total',
      help: 'Audit events this server routed',
      type: 'counter',
      collect: () => [{ value: counters.routed }],
    },
    {
      name: 'stint_notify_delivered_total',
      help: 'Deliveries this server sent and had accepted, per channel',
      type: 'counter',
      collect: () => perChannel(counters.delivered),
    },
    {
      name: 'stint_notify_failed_attempts_total',
      help: 'Delivery attempts that failed on this server, per channel',
      type: 'counter',
      collect: () => perChannel(counters.failedAttempts),
    },
  ];
}
