import type { AuditWriter } from '../audit/audit-writer.js';
import type { Actor } from '../domain/actor.js';
import { StintError } from '../domain/errors.js';
import type { StintDatabase } from '../store/database.js';
import type { AckTokens } from './ack.js';
import { type DeliveryFilter, type DeliveryStore, type DeliveryView, toView } from './deliveries.js';
import { DELIVERY_ID } from './delivery-id.js';
import { notifyTrx } from './notify-tables.js';

export const NOTIFICATION_ACKNOWLEDGED = 'notification.acknowledged';

/** What an acknowledgement answers. */
export interface AckView {
  deliveryId: string;
  eventSeq: number;
  channel: string;
  acknowledgedAt: string;
  acknowledgedBy: string;
  /** False when the delivery had been acknowledged before: nothing new was recorded. */
  recorded: boolean;
}

/** Who acknowledged, as the receiver says: an on-call name, a PagerDuty user id. Kept short and plain. */
const BY = /^[A-Za-z0-9][A-Za-z0-9 ._@+:-]{0,99}$/;

export function createNotifyService(deps: {
  store: StintDatabase;
  audit: AuditWriter;
  deliveries: DeliveryStore;
  ack: AckTokens;
  clock: () => Date;
}) {
  return {
    /** Deliveries and where they stand: for security and admins (who answer for the alerts). */
    async list(actor: Actor, filter: DeliveryFilter): Promise<DeliveryView[]> {
      if (!(actor.security || actor.admin)) {
        throw new StintError('FORBIDDEN', `${actor.userId} may not list notification deliveries`);
      }
      return (await deps.deliveries.list(filter)).map(toView);
    },

    /**
     * Records that the message of a delivery was seen. The token is the proof: it comes only in the message
     * (HMAC over the delivery id, ack.ts). A wrong token is refused before anything is read or written, the
     * same whether or not the delivery exists. The first acknowledgement writes `notification.acknowledged`
     * (what break-glass escalation and the drill look for, by `eventSeq`); later ones change nothing.
     */
    async acknowledge(id: string, token: string, claimedBy: string | undefined): Promise<AckView> {
      if (!DELIVERY_ID.test(id) || !(await deps.ack.verify(id, token))) {
        throw new StintError(
          'FORBIDDEN',
          'this acknowledgement token is not the one sent with this delivery',
        );
      }
      if (claimedBy !== undefined && !BY.test(claimedBy)) {
        throw new StintError(
          'VALIDATION_FAILED',
          '"by" must be a short name: letters, digits, space . _ @ + : -',
        );
      }
      const now = deps.clock();
      return deps.store.db.transaction().execute(async (trx) => {
        const row = await deps.deliveries.get(id, notifyTrx(trx));
        if (!row) throw new StintError('NOT_FOUND', `no delivery ${id}`);
        const by = claimedBy ?? `token:${row.channel}`;
        const recorded = await deps.deliveries.acknowledge(notifyTrx(trx), id, now.getTime(), by);
        if (recorded) {
          await deps.audit.append(trx, {
            at: now,
            // The token proves someone holds the message, not who they are: the actor says how it was made.
            actor: `ack:${row.channel}`,
            action: NOTIFICATION_ACKNOWLEDGED,
            requestId: row.request_id,
            details: { deliveryId: id, eventSeq: row.event_seq, channel: row.channel, by },
          });
        }
        const at = recorded ? now.getTime() : Number(row.acknowledged_at);
        return {
          deliveryId: id,
          eventSeq: row.event_seq,
          channel: row.channel,
          acknowledgedAt: new Date(at).toISOString(),
          acknowledgedBy: recorded ? by : (row.acknowledged_by ?? by),
          recorded,
        };
      });
    },
  };
}

export type NotifyService = ReturnType<typeof createNotifyService>;
