import { createHash } from 'node:crypto';

export const DELIVERY_ID = /^dlv_[0-9a-f]{32}$/;

/**
 * The id of the message one event makes for one channel: a hash of the event's id (a UUID fixed in its signed
 * body) and the channel's name. Every retry, on every server, after any crash, sends the same id, so a receiver
 * that keeps the ids it has seen drops repeats (Standard Webhooks `webhook-id`, PagerDuty `dedup_key`, the
 * e-mail's Message-ID).
 */
export function deliveryId(eventId: string, channel: string): string {
  const digest = createHash('sha256').update(`stint-delivery/v1\n${eventId}\n${channel}`).digest('hex');
  return `dlv_${digest.slice(0, 32)}`;
}
