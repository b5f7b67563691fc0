import type { NotificationMessage } from '../message.js';
import type { Channel } from './channel.js';
import { postJson } from './http-post.js';

/**
 * A PagerDuty Events API v2 `trigger`. `dedup_key` is the delivery id: a retry of the same delivery lands on
 * the same alert, never a second page. The summary is cut to PagerDuty's 1024 characters.
 */
export function pagerDutyBody(m: NotificationMessage, routingKey: string): Record<string, unknown> {
  const target = m.event.target;
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: m.deliveryId,
    payload: {
      summary: m.summary.slice(0, 1024),
      source: m.deployment,
      severity: m.severity,
      timestamp: m.event.time,
      component:
        target?.resource ??
        (typeof m.event.details.resource === 'string' ? m.event.details.resource : 'stint'),
      group: m.event.action.split('.')[0],
      class: m.event.action,
      custom_details: {
        seq: m.event.seq,
        eventId: m.event.id,
        actor: m.event.actor,
        requestId: m.event.requestId,
        details: m.event.details,
        ack: m.ack,
      },
    },
    client: 'Stint',
    ...(m.links.request
      ? { client_url: m.links.request, links: [{ href: m.links.request, text: 'Open in Stint' }] }
      : {}),
  };
}

export function pagerDutyChannel(opts: {
  name: string;
  url: string;
  routingKey: string;
  timeoutMs: number;
  concurrency: number;
}): Channel {
  return {
    name: opts.name,
    kind: 'pagerduty',
    timeoutMs: opts.timeoutMs,
    concurrency: opts.concurrency,
    secrets: [opts.routingKey],
    async send(message, signal) {
      await postJson(
        opts.url,
        JSON.stringify(pagerDutyBody(message, opts.routingKey)),
        {},
        signal,
        opts.timeoutMs,
      );
    },
  };
}
