import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../support/harness.js';
import { snapshot } from '../support/snapshot.js';

/** Findings of a new user's first run: what a request's reason and duration accept, through the real API. */
describe('request reason and duration at the boundary', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('sqlite');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('trims the reason before matching the ticket pattern and stores it trimmed', async () => {
    const created = await h.as('alice').post('/v1/requests', {
      resource: 'prod-db',
      role: 'admin',
      reason: '  INC-77 ',
    });
    expect(created.status).toBe(201);
    expect(created.body.reason).toBe('INC-77');
    const row = await h.testStore.store.db
      .selectFrom('requests')
      .select('reason')
      .where('id', '=', created.body.id)
      .executeTakeFirstOrThrow();
    expect(row.reason).toBe('INC-77');
    const events = await h.as('erin').get(`/v1/audit/events?request=${created.body.id}`);
    const made = events.body.events.find((e: { action: string }) => e.action === 'request.created');
    expect(made.details.reason).toBe('INC-77');
    await h.as('alice').post(`/v1/requests/${created.body.id}/withdraw`, {});
  });

  it('refuses a window shorter than the rule’s minimum with DURATION_TOO_SHORT, changing nothing', async () => {
    const before = await snapshot(h.testStore.store);
    const res = await h.as('alice').post('/v1/requests', {
      resource: 'prod-db',
      role: 'admin',
      reason: 'INC-78',
      duration: '1s',
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('DURATION_TOO_SHORT');
    expect(res.body.error.message).toBe(
      'prod-db/admin may be requested for at least 5m (rule prod-db-admin); asked for 1s',
    );
    expect(await snapshot(h.testStore.store)).toEqual(before);
  });
});
