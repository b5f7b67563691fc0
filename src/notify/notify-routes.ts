import type { FastifyInstance } from 'fastify';
import { actorOf } from '../http/request-context.js';
import { errorResponses, type SchemaTypes } from '../http/schemas.js';
import type { ModuleRoutes } from '../module.js';
import { DELIVERY_STATUSES } from './deliveries.js';
import type { NotifyService } from './notify-service.js';

const nullableString = { type: ['string', 'null'] } as const;
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;

const deliverySchema = {
  type: 'object',
  required: [
    'id',
    'eventSeq',
    'eventId',
    'action',
    'requestId',
    'channel',
    'kind',
    'audiences',
    'recipients',
    'status',
    'attempts',
    'nextAttemptAt',
    'lastError',
    'createdAt',
    'deliveredAt',
    'acknowledgedAt',
    'acknowledgedBy',
  ],
  properties: {
    id: {
      type: 'string',
      description: 'The de-duplication key receivers see (webhook-id, dedup_key, Message-ID)',
    },
    eventSeq: { type: 'integer' },
    eventId: { type: 'string' },
    action: { type: 'string' },
    requestId: nullableString,
    channel: { type: 'string' },
    kind: { type: 'string' },
    audiences: { type: 'array', items: { type: 'string' } },
    recipients: { type: 'array', items: { type: 'string' } },
    status: { type: 'string', enum: DELIVERY_STATUSES },
    attempts: { type: 'integer' },
    nextAttemptAt: nullableDateTime,
    lastError: nullableString,
    createdAt: { type: 'string', format: 'date-time' },
    deliveredAt: nullableDateTime,
    acknowledgedAt: nullableDateTime,
    acknowledgedBy: nullableString,
  },
} as const;

const deliveryParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: '^dlv_[0-9a-f]{32}$' } },
} as const;

const ACK =
  'Public: the token is the credential. It comes only inside the message (HMAC over the delivery id with a key ' +
  "only Stint's servers hold), so whoever received the message may acknowledge it and nobody else can. A wrong " +
  'token answers 403 and records nothing. The first acknowledgement records the audit event ' +
  '`notification.acknowledged` `{ deliveryId, eventSeq, channel, by }`; a repeat answers `recorded: false`. ' +
  '`by` is what the receiver says about who acknowledged; the token does not prove it.';

export function notifyRoutes(service: NotifyService) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const api = app.withTypeProvider<SchemaTypes>();
    api.get(
      '/v1/notifications/deliveries',
      {
        schema: {
          operationId: 'listNotificationDeliveries',
          summary: 'Notification deliveries and where they stand (security and admins)',
          tags: ['notifications'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              status: { type: 'string', enum: DELIVERY_STATUSES },
              channel: { type: 'string', maxLength: 64 },
              event: {
                type: 'integer',
                minimum: 0,
                description: 'Only the deliveries of the event with this seq',
              },
              after: {
                type: 'integer',
                minimum: -1,
                description: 'Only deliveries of events after this seq',
              },
              limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
            },
          },
          response: {
            200: {
              type: 'object',
              required: ['deliveries'],
              properties: { deliveries: { type: 'array', items: deliverySchema } },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const q = request.query;
        const deliveries = await service.list(actorOf(request), {
          limit: q.limit ?? 100,
          ...(q.status ? { status: q.status } : {}),
          ...(q.channel ? { channel: q.channel } : {}),
          ...(q.event !== undefined ? { eventSeq: q.event } : {}),
          ...(q.after !== undefined ? { afterSeq: q.after } : {}),
        });
        return { deliveries };
      },
    );

    api.post(
      '/v1/notifications/deliveries/:id/ack',
      {
        config: { public: true },
        schema: {
          operationId: 'acknowledgeNotification',
          summary: 'Acknowledge a notification with the token it carried',
          description: ACK,
          tags: ['notifications'],
          security: [],
          params: deliveryParams,
          body: {
            type: 'object',
            required: ['token'],
            additionalProperties: false,
            properties: {
              token: { type: 'string', minLength: 1, maxLength: 100 },
              by: { type: 'string', minLength: 1, maxLength: 100 },
            },
          },
          response: {
            200: {
              type: 'object',
              required: ['deliveryId', 'eventSeq', 'channel', 'acknowledgedAt', 'acknowledgedBy', 'recorded'],
              properties: {
                deliveryId: { type: 'string' },
                eventSeq: { type: 'integer' },
                channel: { type: 'string' },
                acknowledgedAt: { type: 'string', format: 'date-time' },
                acknowledgedBy: { type: 'string' },
                recorded: { type: 'boolean' },
              },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => service.acknowledge(request.params.id, request.body.token, request.body.by),
    );
  };
}

/** Who may call the notification routes (their rows in the route-access table). */
export const NOTIFY_ROUTE_ACCESS: ModuleRoutes['access'] = {
  'GET /v1/notifications/deliveries': 'audit:read',
  'POST /v1/notifications/deliveries/:id/ack': 'public',
};
