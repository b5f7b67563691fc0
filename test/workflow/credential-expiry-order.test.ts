import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

/**
 * A take that loses to expiry answers one code whichever came first, with the clock moved by hand: the take
 * after the expiry committed (the request reads `expired`), and the take past the instant before any expiry ran
 * (the request still reads `active`). The order where the expiry commits while the take waits on the grant row
 * is credential-expiry-race.test.ts.
 */
describe.each(STORE_KINDS)('a take that loses to expiry (%s store)', (kind) => {
  let h: Harness;
  let now = Date.now();
  beforeAll(async () => {
    // Not started: no sweeper or timer expires anything behind the test's back; issuance runs on approval.
    h = await createHarness(kind, { start: false, clock: () => new Date(now) });
  });
  afterAll(async () => {
    await h?.close();
  });

  async function tenMinutes(): Promise<{ id: string; expiresAt: number }> {
    const { id, request } = await activeGrant(h, {
      resource: 'staging-db',
      role: 'read',
      reason: 'order',
      duration: '10m',
    });
    return { id, expiresAt: Date.parse(request.expiresAt) };
  }

  it('answers 410 GRANT_EXPIRED when the expiry committed before the take', async () => {
    const { id, expiresAt } = await tenMinutes();
    now = expiresAt + 1;
    await h.stint.grants.expireGrant(id);
    expect((await h.as('alice').get(`/v1/requests/${id}`)).body.state).toBe('expired');

    const take = await h.as('alice').post(`/v1/requests/${id}/credentials`);
    expect(take.status).toBe(410);
    expect(take.body.error.code).toBe('GRANT_EXPIRED');
  });

  it('answers 410 GRANT_EXPIRED when the take comes past the instant, before the expiry ran', async () => {
    const { id, expiresAt } = await tenMinutes();
    now = expiresAt;
    expect((await h.as('alice').get(`/v1/requests/${id}`)).body.state).toBe('active');

    const take = await h.as('alice').post(`/v1/requests/${id}/credentials`);
    expect(take.status).toBe(410);
    expect(take.body.error.code).toBe('GRANT_EXPIRED');
    await h.stint.grants.expireGrant(id);
  });

  it('a take of a revoked grant still answers CREDENTIAL_NOT_AVAILABLE', async () => {
    now = Date.now();
    const { id } = await tenMinutes();
    await h.as('alice').post(`/v1/requests/${id}/revoke`, { comment: 'done' });
    const take = await h.as('alice').post(`/v1/requests/${id}/credentials`);
    expect(take.status).toBe(409);
    expect(take.body.error.code).toBe('CREDENTIAL_NOT_AVAILABLE');
  });
});
