import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditInput } from '../../src/audit/audit-store.js';
import { deliveryId } from '../../src/notify/delivery-id.js';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness } from '../support/harness.js';
import { envNames, withNotifications } from './fixtures.js';
import { type HttpReceiver, newWebhookSecret, startWebhookReceiver } from './receivers.js';

/**
 * Who hears what: each audience has a channel of its own here, so where a delivery went says which audience the
 * notifier found. Break-glass events are appended exactly as the contract with break-glass describes them.
 */
describe('routing events to audiences and channels', () => {
  const env = envNames('route');
  const secret = newWebhookSecret();
  let hook: HttpReceiver;
  let h: Harness;
  let now = Date.now();

  beforeAll(async () => {
    hook = await startWebhookReceiver(secret);
    process.env[env.hookSecret] = secret;
    const channel = `{ kind: webhook, url: '${hook.url}', secret: { env: ${env.hookSecret} } }`;
    h = await createHarness('sqlite', {
      clock: () => new Date(now),
      policy: withNotifications(`
channels:
  sec: ${channel}
  appr: ${channel}
  req: ${channel}
  usr: ${channel}
  bg-chat: ${channel}
routes:
  - { audience: security, channels: [sec] }
  - { audience: approvers, channels: [appr] }
  - { audience: requester, channels: [req] }
  - { audience: user, channels: [usr] }
reminders: { approval: 1h, expiry: 15m }
`),
    });
  });
  afterAll(async () => {
    await h?.close();
    await hook?.close();
  });

  /** Appends one event as its capability would, routes it now, and answers its deliveries by channel. */
  async function record(event: Omit<AuditInput, 'at'>) {
    await h.stint.audit.writer.append(h.testStore.store.db, { at: new Date(now), ...event });
    const [last] = (await h.as('sam').get('/v1/audit/events?limit=500')).body.events.slice(-1);
    return routed(last.seq);
  }

  async function routed(seq: number) {
    await h.stint.notify.route();
    const rows = await h.stint.notify.deliveries.list({ eventSeq: seq, limit: 50 });
    return Object.fromEntries(rows.map((r) => [r.channel, { ...r, recipients: JSON.parse(r.recipients) }]));
  }

  async function eventsOf(requestId: string) {
    return (await h.as('sam').get(`/v1/audit/events?request=${requestId}`)).body.events as {
      seq: number;
      id: string;
      action: string;
    }[];
  }

  it('a pending request goes to the approvers still needed; decisions and activation to the requester', async () => {
    const created = await h
      .as('alice')
      .post('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-9' });
    const [ev] = await eventsOf(created.body.id);
    const byChannel = await routed(ev?.seq as number);
    expect(Object.keys(byChannel)).toEqual(['appr']);
    expect(byChannel.appr).toMatchObject({ recipients: ['carol'], id: deliveryId(ev?.id as string, 'appr') });

    const approved = await h.as('carol').postSettled(`/v1/requests/${created.body.id}/approve`, {});
    expect(approved.body.state).toBe('active');
    const events = await eventsOf(created.body.id);
    for (const action of ['request.approved', 'grant.activated']) {
      const e = events.find((x) => x.action === action);
      const d = await routed(e?.seq as number);
      expect(Object.keys(d), action).toEqual(['req']);
      expect(d.req?.recipients).toEqual(['alice']);
    }
    await h.as('alice').post(`/v1/requests/${created.body.id}/revoke`, {});
    // Alice revoked her own access: nobody needs telling.
    const revoked = (await eventsOf(created.body.id)).find((x) => x.action === 'grant.revoked');
    expect(await routed(revoked?.seq as number)).toEqual({});
  });

  it('break-glass invoked: its resource set’s channels and security; a channel the policy lacks is recorded failed', async () => {
    const d = await record({
      actor: 'dave',
      action: 'breakglass.invoked',
      requestId: null,
      details: {
        resource: 'prod-db',
        role: 'admin',
        holder: 'dave',
        reason: 'IdP down',
        channels: ['bg-chat', 'no-such-channel'],
        alert: true,
        notify: ['security'],
      },
    });
    expect(Object.keys(d).sort()).toEqual(['bg-chat', 'no-such-channel', 'sec']);
    expect(d.sec?.recipients).toEqual(['dave', 'sam']);
    expect(d['bg-chat']).toMatchObject({ status: 'pending', kind: 'webhook' });
    expect(d['no-such-channel']).toMatchObject({
      status: 'failed',
      kind: 'unknown',
      last_error: 'no channel named "no-such-channel" in the policy',
    });
    const invokedSeq = d.sec?.event_seq as number;
    const esc = await record({
      actor: 'stint',
      action: 'breakglass.escalated',
      requestId: null,
      details: { invokedSeq, level: 1, channels: ['bg-chat'], alert: true },
    });
    expect(Object.keys(esc).sort()).toEqual(['bg-chat', 'sec']);
    await hook.waitFor((r) => r.some((m) => m.id === d['bg-chat']?.id));
  });

  it('postmortems reach their owner, failing drills security, factor changes and host sessions their user', async () => {
    const due = new Date(now + 7 * 86_400_000).toISOString();
    for (const action of ['postmortem.opened', 'postmortem.reminder', 'postmortem.overdue']) {
      const d = await record({
        actor: 'stint',
        action,
        requestId: null,
        details: { postmortemId: 'pm_1', owner: 'bob', due, notify: ['bob'] },
      });
      expect(Object.keys(d), action).toEqual(['usr']);
      expect(d.usr?.recipients).toEqual(['bob']);
    }
    const drill = await record({
      actor: 'stint',
      action: 'drill.failed',
      requestId: null,
      details: { drillId: 'drl_1', step: 'credential', alert: true },
    });
    expect(Object.keys(drill)).toEqual(['sec']);
    const host = await record({
      actor: 'host:ops@bastion',
      action: 'session.host-created',
      requestId: null,
      target: { principal: 'alice' },
      details: { user: 'alice', session: 'ses_1', by: 'ops', host: 'bastion', notify: ['alice'] },
    });
    expect(host.usr?.recipients).toEqual(['alice']);
    const reset = await record({
      actor: 'root',
      action: 'mfa.reset',
      requestId: null,
      details: { resetId: 'rst_1', user: 'bob', requestedBy: 'root', removed: 1, notify: ['bob', 'root'] },
    });
    expect(reset.usr?.recipients).toEqual(['bob', 'root']);
    // An event nobody is routed for makes no delivery.
    expect(await record({ actor: 'alice', action: 'auth.signed_in', requestId: null, details: {} })).toEqual(
      {},
    );
  });

  it('reminds approvers before a request times out, and requesters before access ends, once each', async () => {
    const start = Date.now();
    now = start;
    const pending = await h
      .as('alice')
      .post('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-10' });
    const grant = await activeGrant(h, {
      resource: 'staging-db',
      role: 'read',
      duration: '30m',
      requester: 'bob',
    });
    // The 30 min grant is warned 15 min before its end (then ended, before the clock jumps a day)...
    now = start + 20 * 60_000;
    // (The sweep may get there first; either way it is recorded once.)
    await h.stint.notify.reminders();
    expect(await h.stint.notify.reminders()).toBe(0);
    const expiring = (await eventsOf(grant.id)).filter((e) => e.action === 'grant.expiring');
    expect(expiring).toHaveLength(1);
    const d = await routed(expiring[0]?.seq as number);
    expect(d.req?.recipients).toEqual(['bob']);
    await h.as('bob').post(`/v1/requests/${grant.id}/revoke`, {});

    // ...and the request pending 24h is reminded 1h before it times out.
    now = start + 23 * 3600_000 + 30 * 60_000;
    // (The sweep may get there first; either way it is recorded once.)
    await h.stint.notify.reminders();
    expect(await h.stint.notify.reminders()).toBe(0);
    const reminder = (await eventsOf(pending.body.id)).filter((e) => e.action === 'request.reminder');
    expect(reminder).toHaveLength(1);
    const r = await routed(reminder[0]?.seq as number);
    expect(Object.keys(r)).toEqual(['appr']);
    expect(r.appr?.recipients).toEqual(['carol']);
    now = Date.now();
  });
});
