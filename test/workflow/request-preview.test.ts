import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../support/harness.js';
import { snapshot } from '../support/snapshot.js';

const preview = (h: Harness, user: string, query: Record<string, string>) =>
  h.as(user).get(`/v1/requests/preview?${new URLSearchParams(query)}`);

/**
 * GET /v1/requests/preview: what the portal's form shows before a request is sent. It decides as creating would
 * (same rule, approvals, duration, refusals) and stores nothing.
 */
describe('previewing a request', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('sqlite', { stepUp: false });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('names the approvals it would wait for and who may give them, without a reason yet', async () => {
    const res = await preview(h, 'alice', { resource: 'prod-db', role: 'admin' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({
      ruleId: 'prod-db-admin',
      policyVersion: expect.any(String),
      tiers: ['manager'],
      waitingFor: [{ tier: 'manager', label: 'manager', eligible: ['carol'] }],
      durationSeconds: 3600,
      maxDurationSeconds: 4 * 3600,
      approverStepUp: true,
      reasonChecked: false,
    });
    const auto = await preview(h, 'alice', { resource: 'staging-db', role: 'read', reason: 'look' });
    expect(auto.body).toMatchObject({
      tiers: ['auto'],
      waitingFor: [],
      approverStepUp: false,
      reasonChecked: true,
    });
    const two = await preview(h, 'alice', { resource: 'payments-db', role: 'admin', duration: '90m' });
    expect(two.body.durationSeconds).toBe(5400);
    expect(two.body.waitingFor.map((w: { label: string }) => w.label)).toEqual([
      'manager',
      'security reviewer',
      'second approver',
    ]);
  });

  it('answers what creating then records', async () => {
    const ask = { resource: 'payments-db', role: 'admin', reason: 'INC-9' };
    const seen = await preview(h, 'bob', { ...ask, duration: '2h' });
    const made = await h.as('bob').post('/v1/requests', { ...ask, duration: '2h' });
    expect(made.status).toBe(201);
    expect(seen.body.waitingFor).toEqual(made.body.waitingFor);
    expect(seen.body.tiers).toEqual(made.body.tiers);
    expect(seen.body.ruleId).toBe(made.body.ruleId);
    expect(seen.body.durationSeconds).toBe(made.body.durationSeconds);
  });

  it('refuses with the codes creating would, and changes nothing either way', async () => {
    const before = await snapshot(h.testStore.store);
    const cases: [string, Record<string, string>, number, string][] = [
      ['alice', { resource: 'prod-db', role: 'admin', reason: 'not a ticket' }, 400, 'TICKET_MALFORMED'],
      ['alice', { resource: 'prod-db', role: 'admin', duration: '9h' }, 400, 'DURATION_TOO_LONG'],
      ['alice', { resource: 'prod-db', role: 'admin', duration: 'soon' }, 400, 'INVALID_DURATION'],
      ['alice', { resource: 'nope-db', role: 'admin' }, 400, 'UNKNOWN_RESOURCE'],
      ['alice', { resource: 'prod-db', role: 'root' }, 400, 'UNKNOWN_ROLE'],
      ['carol', { resource: 'prod-db', role: 'admin' }, 403, 'NOT_ELIGIBLE'],
      ['alice', { resource: 'prod-db' }, 400, 'VALIDATION_FAILED'],
      ['alice', { resource: 'prod-db', role: 'admin', sudo: '1' }, 400, 'VALIDATION_FAILED'],
    ];
    for (const [user, query, status, code] of cases) {
      const res = await preview(h, user, query);
      expect(res.status, JSON.stringify(query)).toBe(status);
      expect(res.body.error.code, JSON.stringify(query)).toBe(code);
    }
    // An allowed preview stores nothing either: no request, no event.
    expect((await preview(h, 'alice', { resource: 'prod-db', role: 'admin', reason: 'INC-1' })).status).toBe(
      200,
    );
    expect(await snapshot(h.testStore.store)).toEqual(before);
  });

  it('a scoped token needs requests:read', async () => {
    const { token } = await h.stint.identity.tokens.create(
      'alice',
      'ci',
      new Date(),
      new Date(Date.now() + 86_400_000),
      ['approvals:write'],
    );
    const res = await h.app.inject({
      method: 'GET',
      url: '/v1/requests/preview?resource=prod-db&role=admin',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.details.needed).toBe('requests:read');
  });
});
