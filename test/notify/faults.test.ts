import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryId } from '../../src/notify/delivery-id.js';
import { createHarness, type Harness } from '../support/harness.js';
import { envNames, withNotifications } from './fixtures.js';
import { type HttpReceiver, newWebhookSecret, startWebhookReceiver, until } from './receivers.js';

/** Receivers that are down, failing or slow: messages wait for them, and nothing else waits for them. */
describe('delivery faults', () => {
  const env = envNames('fault');
  const secret = newWebhookSecret();
  let fast: HttpReceiver;
  let slow: HttpReceiver;
  let h: Harness;

  beforeAll(async () => {
    fast = await startWebhookReceiver(secret);
    slow = await startWebhookReceiver(secret);
    process.env[env.hookSecret] = secret;
    h = await createHarness('sqlite', {
      policy: withNotifications(`
channels:
  fast: { kind: webhook, url: '${fast.url}', secret: { env: ${env.hookSecret} } }
  slow: { kind: webhook, url: '${slow.url}', secret: { env: ${env.hookSecret} }, timeout: 2s, concurrency: 1 }
routes:
  - { events: ['request.*', 'grant.*'], channels: [fast, slow] }
retry: { first: 1s, max: 1s }
`),
    });
  });
  afterAll(async () => {
    await h?.close();
    await Promise.all([fast?.close(), slow?.close()]);
  });

  const eventsOf = async (id: string) =>
    (await h.as('sam').get(`/v1/audit/events?request=${id}`)).body.events as {
      seq: number;
      id: string;
      action: string;
    }[];

  it('a receiver that is down gets the message when it comes back; the row says why it waited', async () => {
    await fast.down();
    const created = await h
      .as('alice')
      .post('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-3' });
    const [event] = await eventsOf(created.body.id);
    const id = deliveryId(event?.id as string, 'fast');
    const row = async () =>
      (await h.as('sam').get(`/v1/notifications/deliveries?event=${event?.seq}&channel=fast`)).body
        .deliveries[0];
    const waiting = await until(row, (r) => r?.attempts >= 2);
    expect(waiting).toMatchObject({ id, status: 'pending', lastError: 'connection refused (ECONNREFUSED)' });
    expect(waiting.attempts).toBeGreaterThanOrEqual(2);

    // Up, but failing: still retried, the status code recorded (never the receiver's body).
    await fast.up();
    fast.behave({ kind: 'status', status: 503 });
    expect((await until(row, (r) => r.lastError === 'HTTP 503')).lastError).toBe('HTTP 503');

    fast.behave({ kind: 'ok' });
    await fast.waitFor((r) => r.some((m) => m.id === id), 15_000);
    expect(await until(row, (r) => r.status === 'delivered')).toMatchObject({
      status: 'delivered',
      lastError: null,
    });
    await slow.waitFor((r) => r.some((m) => m.body.event.id === event?.id));
  });

  it('a slow receiver delays neither a grant nor the other channel; it times out and gets the message later', async () => {
    slow.behave({ kind: 'delay', ms: 8_000 });
    const started = Date.now();
    const res = await h
      .as('bob')
      .postSettled('/v1/requests', { resource: 'staging-db', role: 'read', reason: 'x' });
    const grantMs = Date.now() - started;
    expect(res.body.state).toBe('active');
    const events = await eventsOf(res.body.id);
    const ids = events.filter((e) => e.action !== 'credential.shown').map((e) => e.id);
    expect(ids.length).toBeGreaterThanOrEqual(3); // created, approved, activated

    // The fast channel has every message while the slow one has none of them yet.
    await fast.waitFor((r) => ids.every((e) => r.some((m) => m.body.event.id === e)), 10_000);
    const fastDone = Date.now() - started;
    expect(slow.received.filter((m) => ids.includes(m.body.event.id))).toEqual([]);
    expect(h.stint.notify.dispatcher.inFlight().get('slow')).toBe(1);
    // Said, not asserted as a bound (timings are the benchmark's): the grant and the fast channel took this long.
    console.log(
      `grant active in ${grantMs} ms, fast channel complete in ${fastDone} ms, slow receiver still holding`,
    );

    // Its 2 s time-out counts as a failed attempt and is retried; once it answers promptly everything arrives.
    const first = deliveryId(ids[0] as string, 'slow');
    const pending = async () =>
      (await h.as('sam').get('/v1/notifications/deliveries?channel=slow&status=pending')).body.deliveries as {
        lastError: string | null;
      }[];
    const timedOut = (rows: { lastError: string | null }[]) =>
      rows.some((d) => d.lastError === 'no answer within 2s');
    expect(timedOut(await until(pending, timedOut))).toBe(true);
    slow.behave({ kind: 'ok' });
    await slow.waitFor((r) => ids.every((e) => r.some((m) => m.body.event.id === e)), 20_000);
    expect(slow.ids()).toContain(first);
    expect(slow.rejected).toEqual([]);
    await h.as('bob').post(`/v1/requests/${res.body.id}/revoke`, {});
  });
});
