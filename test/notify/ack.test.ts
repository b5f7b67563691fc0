import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../cli/support.js';
import { createHarness, type Harness } from '../support/harness.js';
import { envNames, withNotifications } from './fixtures.js';
import { type HttpReceiver, newWebhookSecret, startWebhookReceiver, until } from './receivers.js';

/**
 * Acknowledgements: the token in a message acknowledges that delivery, once, with an audit event break-glass can
 * find by the event's seq; anything else (another delivery's token, a made-up one, one character changed) is
 * refused and changes nothing.
 */
describe('acknowledging a notification', () => {
  const env = envNames('ack');
  const secret = newWebhookSecret();
  let hook: HttpReceiver;
  let h: Harness;

  beforeAll(async () => {
    hook = await startWebhookReceiver(secret);
    process.env[env.hookSecret] = secret;
    h = await createHarness('sqlite', {
      policy: withNotifications(`
channels:
  hook: { kind: webhook, url: '${hook.url}', secret: { env: ${env.hookSecret} } }
routes:
  - { events: ['request.*'], channels: [hook] }
`),
    });
  });
  afterAll(async () => {
    await h?.close();
    await hook?.close();
  });

  const ack = (id: string, body: object) =>
    h.app.inject({ method: 'POST', url: `/v1/notifications/deliveries/${id}/ack`, payload: body });

  async function twoMessages() {
    const before = hook.received.length;
    for (const reason of ['INC-1', 'INC-2']) {
      expect(
        (await h.as('alice').post('/v1/requests', { resource: 'prod-db', role: 'admin', reason })).status,
      ).toBe(201);
    }
    await hook.waitFor((r) => r.length >= before + 2);
    return hook.received.slice(before, before + 2).map((m) => m.body);
  }

  const acknowledgements = async () =>
    (await h.as('sam').get('/v1/audit/events?limit=500')).body.events.filter(
      (e: { action: string }) => e.action === 'notification.acknowledged',
    );

  it('the token from the message acknowledges once, without signing in, and records notification.acknowledged', async () => {
    const [first] = await twoMessages();
    const res = await ack(first.deliveryId, { token: first.ack.token, by: 'carol on call' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      deliveryId: first.deliveryId,
      eventSeq: first.event.seq,
      channel: 'hook',
      acknowledgedBy: 'carol on call',
      recorded: true,
    });
    const events = await acknowledgements();
    const recorded = events.filter(
      (e: { details: { deliveryId: string } }) => e.details.deliveryId === first.deliveryId,
    );
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({
      actor: 'ack:hook',
      requestId: first.event.requestId,
      details: {
        deliveryId: first.deliveryId,
        eventSeq: first.event.seq,
        channel: 'hook',
        by: 'carol on call',
      },
    });

    // Again: answered, nothing new recorded.
    const again = await ack(first.deliveryId, { token: first.ack.token });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ recorded: false, acknowledgedBy: 'carol on call' });
    expect(await acknowledgements()).toHaveLength(events.length);
    // The receiver answered before Stint marked the delivery: read until it is marked.
    const listed = await until(
      () => h.as('sam').get(`/v1/notifications/deliveries?event=${first.event.seq}`),
      (r) => r.body.deliveries?.[0]?.status === 'delivered',
    );
    expect(listed.body.deliveries[0]).toMatchObject({ acknowledgedBy: 'carol on call', status: 'delivered' });
  });

  it('a forged acknowledgement is refused and changes nothing', async () => {
    const [a, b] = await twoMessages();
    const recordedBefore = (await acknowledgements()).length;
    const flip = (t: string) => `${t.slice(0, -1)}${t.endsWith('A') ? 'B' : 'A'}`;
    // The same MAC spelt otherwise: base64url's last character of 32 bytes carries two unused bits.
    const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const respell = (t: string) => `${t.slice(0, -1)}${B64[B64.indexOf(t.at(-1) as string) ^ 1]}`;
    const forgeries = [
      { id: b.deliveryId, token: a.ack.token }, // another delivery's token
      { id: b.deliveryId, token: flip(b.ack.token) }, // one character changed
      { id: b.deliveryId, token: respell(b.ack.token) }, // the same bytes, not the text issued
      { id: b.deliveryId, token: 'ack_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, // made up
      { id: b.deliveryId, token: b.ack.token.slice(0, 20) }, // cut short
      { id: `dlv_${'0'.repeat(32)}`, token: b.ack.token }, // a delivery that does not exist
    ];
    for (const f of forgeries) {
      const res = await ack(f.id, { token: f.token, by: 'mallory' });
      expect(res.statusCode, `${f.id} ${f.token}`).toBe(403);
      expect(res.json().error.code).toBe('FORBIDDEN');
    }
    expect((await acknowledgements()).length).toBe(recordedBefore);
    const listed = await h.as('sam').get(`/v1/notifications/deliveries?event=${b.event.seq}`);
    expect(listed.body.deliveries[0]).toMatchObject({ acknowledgedAt: null, acknowledgedBy: null });
    // The real token still works afterwards.
    expect((await ack(b.deliveryId, { token: b.ack.token })).json()).toMatchObject({
      recorded: true,
      acknowledgedBy: 'token:hook',
    });
  });

  it('stint notifications list / ack: the CLI over HTTP, a forged token refused there too', async () => {
    const [m] = await twoMessages();
    const url = await h.app.listen({ port: 0, host: '127.0.0.1' });
    const listed = await run(['notifications', 'list', '--event', String(m.event.seq)], {
      env: { STINT_URL: url, STINT_TOKEN: h.tokens.sam },
    });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(m.deliveryId);
    expect(listed.stdout).toContain(`#${m.event.seq} request.created`);
    expect(listed.stdout).toMatch(/hook\s*│\s*delivered/);

    // No sign-in needed: the token is the credential.
    const forged = await run(['notifications', 'ack', m.deliveryId, '--token', 'ack_forged'], {
      env: { STINT_URL: url },
    });
    expect(forged.code, forged.stderr).toBe(1);
    expect(forged.stderr).toContain('FORBIDDEN');
    const done = await run(['notifications', 'ack', m.deliveryId, '--token', m.ack.token, '--by', 'dave'], {
      env: { STINT_URL: url },
    });
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toBe(`acknowledged ${m.deliveryId} (event #${m.event.seq}, channel hook) as dave\n`);
    const bad = await run(['notifications', 'ack', 'req_0123456789abcdef', '--token', 'x'], {
      env: { STINT_URL: url },
    });
    expect(bad.code).toBe(2);
  });

  it('refuses a malformed id or body before looking anything up', async () => {
    const [m] = await twoMessages();
    expect((await ack('req_0123456789abcdef', { token: m.ack.token })).statusCode).toBe(400);
    expect((await ack(m.deliveryId, {})).statusCode).toBe(400);
    expect((await ack(m.deliveryId, { token: m.ack.token, by: 'x\ny' })).statusCode).toBe(400);
  });
});
