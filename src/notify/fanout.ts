import type { Transaction } from 'kysely';
import type { PolicySource } from '../policy/policy-source.js';
import type { RequestStore } from '../store/request-store.js';
import type { Database } from '../store/schema.js';
import type { CommittedEvent } from './cursor.js';
import type { DeliveryRow, DeliveryStore } from './deliveries.js';
import { deliveryId } from './delivery-id.js';
import { notifyTrx } from './notify-tables.js';
import { audiencesOf, concernsRequest, plan } from './routing.js';

/**
 * Routing, run inside the cursor's transaction: each event becomes one delivery row per channel it goes to,
 * committed together with the cursor's move past it. Nothing is sent here; sending reads the committed rows.
 */
export function createFanout(deps: {
  policy: PolicySource;
  requests: RequestStore;
  deliveries: DeliveryStore;
  clock: () => Date;
}) {
  async function handle(trx: Transaction<Database>, events: CommittedEvent[]): Promise<void> {
    const policy = deps.policy.current();
    const notifications = policy.notifications;
    const now = deps.clock().getTime();
    const rows: DeliveryRow[] = [];
    const requests = new Map<string, Awaited<ReturnType<RequestStore['get']>>>();
    for (const event of events) {
      // No rules: only channels an event names itself can get it (and nobody's request needs reading).
      if (!notifications && !Array.isArray(event.details.channels)) continue;
      let request = null;
      if (notifications && event.requestId !== null && concernsRequest(event)) {
        if (!requests.has(event.requestId)) {
          requests.set(event.requestId, await deps.requests.get(trx, event.requestId));
        }
        request = requests.get(event.requestId) ?? null;
      }
      const audiences = audiencesOf(event, { request, users: policy.users });
      for (const p of plan(event, audiences, notifications)) {
        const spec = notifications?.channels.get(p.channel);
        rows.push({
          id: deliveryId(event.id, p.channel),
          event_seq: event.seq,
          event_id: event.id,
          action: event.action,
          request_id: event.requestId,
          channel: p.channel,
          // A channel the event names that the policy does not define: recorded, failed, so it is seen.
          kind: spec?.kind ?? 'unknown',
          audiences: JSON.stringify(p.audiences),
          recipients: JSON.stringify(p.recipients),
          status: spec ? 'pending' : 'failed',
          attempts: 0,
          next_attempt_at: now,
          last_error: spec ? null : `no channel named "${p.channel}" in the policy`,
          claim: null,
          claimed_until: null,
          created_at: now,
          delivered_at: null,
          acknowledged_at: null,
          acknowledged_by: null,
        });
      }
    }
    await deps.deliveries.insert(notifyTrx(trx), rows);
  }
  return { handle };
}
