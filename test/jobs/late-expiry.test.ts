import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LATE_EXPIRY_MS } from '../../src/grants/overdue.js';
import type { Logger } from '../../src/logger.js';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness } from '../support/harness.js';
import { waitFor } from '../support/pg-client.js';
import { STORE_KINDS } from '../support/stores.js';

/**
 * Issue 20: a store outage delays expiries (nothing can record them while it lasts), and nothing said so. Here
 * the expiry work is held back (as an outage holds it: no timer, no sweep gets through) while the injected clock
 * passes the window by a minute: /readyz names the grant as degraded, and the catch-up that ends it (the sweep
 * that runs when the store answers again) records an alerting `grant.expired_late` with how late it was.
 */
describe.each(STORE_KINDS)('expiries recorded late, on %s', (kind) => {
  let h: Harness;
  let offsetMs = 0;
  const errors: { obj: object; msg: string | undefined }[] = [];
  const logger: Logger = { info() {}, warn() {}, error: (obj, msg) => errors.push({ obj, msg }) };

  beforeAll(async () => {
    h = await createHarness(kind, { clock: () => new Date(Date.now() + offsetMs), logger });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  it('names a grant past its window in /readyz, and alerts once when its expiry is finally recorded', async () => {
    const { id } = await activeGrant(h, {
      resource: 'staging-db',
      role: 'read',
      reason: 'late expiry test',
      duration: '1s',
    });
    // The outage: neither the grant's timer nor the sweeper gets to record anything.
    await h.stint.stopSweeps();
    h.stint.grants.scheduler.cancel(id);

    offsetMs = 60_000;
    const degraded = (await h.app.inject({ method: 'GET', url: '/readyz' })).json();
    expect(degraded).toMatchObject({
      status: 'degraded',
      degraded: [{ check: 'expiries', count: 1, requests: [id] }],
    });

    // The store answers again: the catch-up sweep ends it, and says how late.
    await h.stint.sweep();
    const events = (await h.as('erin').get(`/v1/audit/events?request=${id}`)).body.events as {
      action: string;
      details: Record<string, unknown>;
      body: { result: string };
    }[];
    const late = events.filter((e) => e.action === 'grant.expired_late');
    expect(late).toHaveLength(1);
    expect(late[0]?.details.alert).toBe(true);
    expect(late[0]?.body.result).toBe('failure');
    expect(late[0]?.details.lateMs).toBeGreaterThanOrEqual(60_000 - 1_000);
    expect(events.map((e) => e.action)).toContain('grant.expired');
    expect(h.stint.grants.metrics().expiriesLate).toBe(1);
    expect(errors.some((l) => l.msg?.startsWith('grant expired late'))).toBe(true);

    await waitFor(async () => (await h.as('alice').get(`/v1/requests/${id}`)).body.revocation === 'done');
    expect((await h.app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready' });
  }, 60_000);

  it('an expiry recorded within moments of its instant is not alerted', async () => {
    offsetMs = 0;
    const { id } = await activeGrant(h, {
      resource: 'staging-db',
      role: 'read',
      reason: 'on-time expiry',
      duration: '1s',
    });
    h.stint.grants.scheduler.cancel(id);
    offsetMs = LATE_EXPIRY_MS / 2;
    await h.stint.grants.expireGrant(id);
    const events = (await h.as('erin').get(`/v1/audit/events?request=${id}`)).body.events as {
      action: string;
    }[];
    expect(events.map((e) => e.action)).toContain('grant.expired');
    expect(events.map((e) => e.action)).not.toContain('grant.expired_late');
  }, 60_000);
});
