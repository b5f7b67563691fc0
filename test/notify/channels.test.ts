import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetricSample } from '../../src/module.js';
import { deliveryId } from '../../src/notify/delivery-id.js';
import { createHarness, type Harness } from '../support/harness.js';
import { envNames, withNotifications } from './fixtures.js';
import {
  type HttpReceiver,
  newWebhookSecret,
  type SmtpReceiver,
  startPagerDutyReceiver,
  startSlackReceiver,
  startSmtpReceiver,
  startWebhookReceiver,
  until,
  waitUntil,
} from './receivers.js';

/**
 * Every channel kind against a real receiver on this machine: a webhook endpoint that verifies the Standard
 * Webhooks signature, a Slack-format endpoint, PagerDuty's Events v2 body checked field by field, and a real SMTP
 * server (smtp-server) that requires the configured login. Events come from the real workflow (a request) and,
 * for the break-glass contract, are appended as break-glass will append them.
 */
describe('notification channels deliver to real receivers', () => {
  const env = envNames('chan');
  const secret = newWebhookSecret();
  const smtpLogin = { user: 'stint', pass: randomBytes(12).toString('hex') };
  const pdKey = randomBytes(16).toString('hex');
  let hook: HttpReceiver;
  let chat: HttpReceiver;
  let pager: HttpReceiver;
  let smtp: SmtpReceiver;
  let h: Harness;

  beforeAll(async () => {
    hook = await startWebhookReceiver(secret);
    chat = await startSlackReceiver();
    pager = await startPagerDutyReceiver(pdKey);
    smtp = await startSmtpReceiver(smtpLogin);
    process.env[env.hookSecret] = secret;
    process.env[env.slackUrl] = chat.url;
    process.env[env.smtpPass] = smtpLogin.pass;
    process.env[env.pdKey] = pdKey;
    h = await createHarness('sqlite', {
      policy: withNotifications(`
publicUrl: https://stint.example.com
channels:
  hook: { kind: webhook, url: '${hook.url}', secret: { env: ${env.hookSecret} } }
  chat: { kind: slack, url: { env: ${env.slackUrl} } }
  mail: { kind: smtp, host: 127.0.0.1, port: ${smtp.port}, security: none, from: stint@example.com, auth: { user: stint, pass: { env: ${env.smtpPass} } } }
  pager: { kind: pagerduty, routingKey: { env: ${env.pdKey} }, url: '${pager.url}' }
routes:
  - { audience: approvers, channels: [chat, mail] }
  - { audience: requester, channels: [mail] }
  - { audience: security, channels: [pager, chat] }
  - { events: ['*'], channels: [hook] }
`),
    });
  });
  afterAll(async () => {
    await h?.close();
    await Promise.all([hook?.close(), chat?.close(), pager?.close(), smtp?.close()]);
  });

  it('a request waiting for approval reaches its approver by chat and e-mail, and the webhook, each with its own id', async () => {
    const created = await h
      .as('alice')
      .post('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-7' });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const events = await h.as('sam').get(`/v1/audit/events?request=${id}`);
    const event = events.body.events.find((e: { action: string }) => e.action === 'request.created');
    await hook.waitFor((r) => r.some((m) => m.body.event.id === event.id));
    await chat.waitFor((r) => r.some((m) => m.id === deliveryId(event.id, 'chat')));
    await waitUntil(
      () => smtp.mails.some((m) => m.id === deliveryId(event.id, 'mail')),
      20_000,
      'the e-mail',
    );

    // The webhook: signature verified by the receiver (standardwebhooks), webhook-id is the delivery id.
    const w = hook.received.find((m) => m.body.event.id === event.id);
    expect(w?.id).toBe(deliveryId(event.id, 'hook'));
    expect(w?.body).toMatchObject({
      type: 'stint.notification',
      deliveryId: deliveryId(event.id, 'hook'),
      channel: 'hook',
      event: { seq: event.seq, action: 'request.created', actor: 'alice', requestId: id },
      links: { request: `https://stint.example.com/requests/${id}` },
      ack: { path: `/v1/notifications/deliveries/${deliveryId(event.id, 'hook')}/ack` },
    });
    expect(w?.body.ack.token).toMatch(/^ack_[A-Za-z0-9_-]{43}$/);

    // Slack: addressed to carol, a link to the request page, and nothing that approves by itself.
    const s = chat.received.find((m) => m.id === deliveryId(event.id, 'chat'));
    const slackText = JSON.stringify(s?.body);
    expect(slackText).toContain('Carol');
    expect(slackText).toContain(`https://stint.example.com/requests/${id}`);
    expect(slackText).not.toMatch(/\/approve|"button"|"actions"/);

    // E-mail: to the approver's address, logged in with the configured password, Message-ID from the delivery id.
    const mail = smtp.mails.find((m) => m.id === deliveryId(event.id, 'mail'));
    expect(mail?.to).toEqual(['carol@example.com']);
    expect(mail?.user).toBe('stint');
    expect(mail?.raw).toMatch(new RegExp(`^X-Stint-Delivery-Id: ${deliveryId(event.id, 'mail')}`, 'im'));
    expect(mail?.text).toContain(
      `Open the request (approving asks for your second factor): https://stint.example.com/requests/${id}`,
    );
    expect(hook.rejected).toEqual([]);
    expect(chat.rejected).toEqual([]);
  });

  it('an alert (a failed break-glass drill, as break-glass records it) pages security on PagerDuty with dedup_key', async () => {
    const drillId = `drl_${randomBytes(4).toString('hex')}`;
    await h.stint.audit.writer.append(h.testStore.store.db, {
      at: new Date(),
      actor: 'stint',
      action: 'drill.failed',
      requestId: null,
      details: { drillId, step: 'unseal', alert: true },
    });
    await pager.waitFor((r) => r.some((m) => m.body.payload.custom_details.details.drillId === drillId));
    const page = pager.received.find((m) => m.body.payload.custom_details.details.drillId === drillId);
    const eventId = page?.body.payload.custom_details.eventId as string;
    expect(page?.body).toMatchObject({
      routing_key: pdKey,
      event_action: 'trigger',
      dedup_key: deliveryId(eventId, 'pager'),
      payload: { severity: 'critical', source: h.deployment, class: 'drill.failed', group: 'drill' },
    });
    expect(page?.body.payload.summary).toContain(`drill ${drillId} failed at unseal`);
    // Security's chat channel too, and the catch-all webhook; nobody mails security here.
    await chat.waitFor((r) => r.some((m) => m.id === deliveryId(eventId, 'chat')));
    await hook.waitFor((r) => r.some((m) => m.id === deliveryId(eventId, 'hook')));
    expect(smtp.mails.some((m) => m.id === deliveryId(eventId, 'mail'))).toBe(false);
    expect(pager.rejected).toEqual([]);
  });

  it('lists deliveries and their status to security and admins only, without any token', async () => {
    // A receiver holds the body before its answer reaches Stint, and Stint marks the delivery after the answer:
    // read the list until every channel's delivery is marked (or the time runs out and the asserts below fail).
    const channelsOf = (r: { body: { deliveries?: { channel: string }[] } }) =>
      new Set((r.body.deliveries ?? []).map((d) => d.channel));
    const listed = await until(
      () => h.as('sam').get('/v1/notifications/deliveries?status=delivered'),
      (r) => channelsOf(r).size === 4,
    );
    expect(listed.status).toBe(200);
    expect(listed.body.deliveries.length).toBeGreaterThanOrEqual(4);
    for (const d of listed.body.deliveries) {
      expect(d.status).toBe('delivered');
      expect(d.attempts).toBeGreaterThanOrEqual(1);
      expect(JSON.stringify(d)).not.toContain('ack_');
    }
    expect(channelsOf(listed)).toEqual(new Set(['hook', 'chat', 'mail', 'pager']));
    expect((await h.as('root').get('/v1/notifications/deliveries')).status).toBe(200);
    expect((await h.as('alice').get('/v1/notifications/deliveries')).status).toBe(403);
    expect((await h.as('erin').get('/v1/notifications/deliveries')).status).toBe(403);
  });

  it('counts its backlog and its deliveries by channel and status for the metrics exporter', async () => {
    const metrics = new Map(
      await Promise.all(
        (h.stint.notify.module.metrics ?? []).map(
          // The notifier counts (no histograms): its samples carry a value.
          async (m) => [m.name, (await m.collect()) as MetricSample[]] as const,
        ),
      ),
    );
    expect([...metrics.keys()]).toEqual([
      'stint_notify_backlog_events',
      'stint_notify_deliveries',
      'stint_notify_routed_events_total',
      'stint_notify_delivered_total',
      'stint_notify_failed_attempts_total',
    ]);
    expect(metrics.get('stint_notify_backlog_events')?.[0]?.value).toBeGreaterThanOrEqual(0);
    const byStatus = metrics.get('stint_notify_deliveries') ?? [];
    for (const channel of ['hook', 'chat', 'mail', 'pager']) {
      const delivered = byStatus.find(
        (s) => s.labels?.channel === channel && s.labels?.status === 'delivered',
      );
      expect(delivered?.value, channel).toBeGreaterThanOrEqual(1);
    }
    expect(metrics.get('stint_notify_routed_events_total')?.[0]?.value).toBeGreaterThan(0);
    const sent = metrics.get('stint_notify_delivered_total') ?? [];
    expect(sent.find((s) => s.labels?.channel === 'pager')?.value).toBeGreaterThanOrEqual(1);
  });
});
