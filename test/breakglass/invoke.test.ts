import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bgDb } from '../../src/breakglass/breakglass-tables.js';
import { createHarness, type Harness } from '../support/harness.js';
import { stepUp } from '../support/step-up.js';
import { STORE_KINDS } from '../support/stores.js';
import { BREAKGLASS_POLICY, eventsOf } from './support.js';

/** Makes the store refuse every `breakglass.invoked` audit row, as a full or broken audit table would. */
async function refuseAlerts(h: Harness, on: boolean): Promise<void> {
  const db = h.testStore.store.db;
  if (h.testStore.store.dialect === 'sqlite') {
    await sql
      .raw(
        on
          ? `CREATE TRIGGER refuse_alert BEFORE INSERT ON audit_events WHEN NEW.action = 'breakglass.invoked' BEGIN SELECT RAISE(ABORT, 'alert refused'); END`
          : 'DROP TRIGGER refuse_alert',
      )
      .execute(db);
    return;
  }
  if (on) {
    await sql
      .raw(
        `CREATE FUNCTION refuse_alert() RETURNS trigger AS $$ BEGIN
           IF NEW.action = 'breakglass.invoked' THEN RAISE EXCEPTION 'alert refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
      )
      .execute(db);
    await sql
      .raw(
        'CREATE TRIGGER refuse_alert BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_alert()',
      )
      .execute(db);
  } else {
    await sql.raw('DROP TRIGGER refuse_alert ON audit_events').execute(db);
    await sql.raw('DROP FUNCTION refuse_alert()').execute(db);
  }
}

describe.each(STORE_KINDS)('invoking break-glass (%s store)', (kind) => {
  let h: Harness;
  let first: string;
  beforeAll(async () => {
    // Nobody is stepped up at first: sam, whom the policy names, stays without a second factor.
    h = await createHarness(kind, { policy: BREAKGLASS_POLICY, stepUp: false });
    for (const user of ['alice', 'bob', 'mallory']) await stepUp(h.stint, user, h.tokens[user] as string);
  });
  afterAll(async () => {
    await h?.close();
  });

  const breakglassRequests = async () =>
    (await h.testStore.store.db.selectFrom('requests').select(['id', 'tiers']).execute()).filter((r) =>
      r.tiers.includes('breakglass'),
    ).length;

  it('is granted at once, without approval, alerting security in the same transaction', async () => {
    const res = await h.as('alice').post('/v1/breakglass', {
      resource: 'prod-db',
      role: 'read',
      reason: 'INC-9 db down',
      duration: '20m',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    first = res.body.requestId;
    expect(res.body.request).toMatchObject({ state: 'active', tiers: ['breakglass'], durationSeconds: 1200 });
    expect(res.body.request.reviews).toEqual([]);
    const [invoked] = await eventsOf(h, 'breakglass.invoked');
    expect(invoked.seq).toBe(res.body.invokedSeq);
    expect(invoked.requestId).toBe(first);
    expect(invoked.details).toMatchObject({
      resource: 'prod-db',
      role: 'read',
      holder: 'alice',
      reason: 'INC-9 db down',
      channels: ['security-pager', 'security-chat'],
      alert: true,
      notify: ['security'],
      review: 'required',
    });
    const approved = (await eventsOf(h, 'request.approved')).find((e) => e.requestId === first);
    expect(approved.details).toEqual({ tier: 'breakglass', review: 'required' });
    // Its credential is taken like any other grant's, once.
    const taken = await h.as('alice').post(`/v1/requests/${first}/credentials`);
    expect(taken.status, JSON.stringify(taken.body)).toBe(200);
    expect(taken.body.secret.url).toMatch(/^postgres(ql)?:\/\//);
  });

  it('is refused without a reason, beyond its maximum, to someone not named, and without a fresh second factor', async () => {
    const before = await breakglassRequests();
    const noReason = await h
      .as('bob')
      .post('/v1/breakglass', { resource: 'staging-db', role: 'read', reason: '   ' });
    expect(noReason.status).toBe(400);
    expect(noReason.body.error.code).toBe('TICKET_REQUIRED');
    const missing = await h.as('bob').post('/v1/breakglass', { resource: 'staging-db', role: 'read' });
    expect(missing.status).toBe(400);
    const tooLong = await h
      .as('bob')
      .post('/v1/breakglass', { resource: 'staging-db', role: 'read', reason: 'INC-1', duration: '2h' });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error).toMatchObject({
      code: 'DURATION_TOO_LONG',
      details: { maxDurationSeconds: 3600, requestedSeconds: 7200 },
    });
    const stranger = await h
      .as('mallory')
      .post('/v1/breakglass', { resource: 'prod-db', role: 'read', reason: 'INC-1' });
    expect(stranger.status).toBe(403);
    expect(stranger.body.error).toMatchObject({
      code: 'NOT_ELIGIBLE',
      details: { ruleId: 'prod-emergency' },
    });
    // alice may break glass on prod-db, not on staging-db.
    const elsewhere = await h
      .as('alice')
      .post('/v1/breakglass', { resource: 'staging-db', role: 'read', reason: 'INC-1' });
    expect(elsewhere.status).toBe(403);
    const noFactor = await h
      .as('sam')
      .post('/v1/breakglass', { resource: 'prod-db', role: 'admin', reason: 'INC-1' });
    expect(noFactor.status).toBe(403);
    expect(noFactor.body.error.code).toBe('MFA_REQUIRED');
    expect(await breakglassRequests()).toBe(before);
    // The refusals of someone not named and of a missing factor are recorded for security, with their code.
    const refused = await eventsOf(h, 'breakglass.refused');
    expect(refused.map((e) => [e.actor, e.details.code])).toEqual(
      expect.arrayContaining([
        ['mallory', 'NOT_ELIGIBLE'],
        ['alice', 'NOT_ELIGIBLE'],
        ['sam', 'MFA_REQUIRED'],
      ]),
    );
    expect(refused.every((e) => e.result === 'failure' && e.details.alert === true)).toBe(true);
  });

  it('is exclusive: while alice holds prod-db, bob is refused and told who holds it', async () => {
    const res = await h
      .as('bob')
      .post('/v1/breakglass', { resource: 'prod-db', role: 'admin', reason: 'INC-10' });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({
      code: 'BREAKGLASS_HELD',
      details: { holder: 'alice', requestId: first },
    });
  });

  it('after use: released, the credential rotated, a postmortem opened with the timeline from the trail', async () => {
    const revoked = await h.as('alice').post(`/v1/requests/${first}/revoke`, { comment: 'fixed' });
    expect(revoked.status).toBe(200);
    await h.stint.sweep();
    const [rotated] = (await eventsOf(h, 'breakglass.rotated')).filter((e) => e.requestId === first);
    expect(rotated.details.principal).toBeTypeOf('string');
    const [opened] = (await eventsOf(h, 'postmortem.opened')).filter((e) => e.requestId === first);
    expect(opened.details).toMatchObject({ owner: 'sam', notify: ['sam'] });
    const pm = await h.as('sam').get(`/v1/breakglass/postmortems/${opened.details.postmortemId}`);
    expect(pm.status).toBe(200);
    expect(pm.body).toMatchObject({
      requestId: first,
      owner: 'sam',
      state: 'open',
      subject: 'grant',
      resource: 'prod-db',
    });
    expect(new Date(pm.body.due).getTime() - new Date(pm.body.openedAt).getTime()).toBe(3 * 86_400_000);
    const actions = pm.body.timeline.map((e: { action: string }) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'request.created',
        'request.approved',
        'breakglass.invoked',
        'grant.activated',
        'credential.shown',
        'grant.revoked',
        'grant.revocation_completed',
        'breakglass.ended',
        'breakglass.rotated',
        'postmortem.opened',
      ]),
    );
    // The holder row is gone: bob may break glass on prod-db now.
    expect(await bgDb(h.testStore.store).selectFrom('breakglass_holders').selectAll().execute()).toEqual([]);
    const next = await h
      .as('bob')
      .post('/v1/breakglass', { resource: 'prod-db', role: 'admin', reason: 'INC-11' });
    expect(next.status, JSON.stringify(next.body)).toBe(201);
    await h.as('bob').post(`/v1/requests/${next.body.requestId}/revoke`, {});
  });

  it('is refused, granting nothing, when its alert cannot be written', async () => {
    const before = await breakglassRequests();
    const grants = await h.testStore.store.db.selectFrom('grants').select('request_id').execute();
    await refuseAlerts(h, true);
    try {
      const res = await h
        .as('bob')
        .post('/v1/breakglass', { resource: 'staging-db', role: 'read', reason: 'INC-12' });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('AUDIT_UNAVAILABLE');
      expect(res.body.error.message).toMatch(/nothing was granted/);
    } finally {
      await refuseAlerts(h, false);
    }
    expect(await breakglassRequests()).toBe(before);
    expect(await h.testStore.store.db.selectFrom('grants').select('request_id').execute()).toEqual(grants);
    const holders = await bgDb(h.testStore.store).selectFrom('breakglass_holders').selectAll().execute();
    expect(holders.filter((r) => r.resource === 'staging-db')).toEqual([]);
    // The same invocation once the alert can be written again is granted.
    const again = await h
      .as('bob')
      .post('/v1/breakglass', { resource: 'staging-db', role: 'read', reason: 'INC-12' });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    await h.as('bob').post(`/v1/requests/${again.body.requestId}/revoke`, {});
  });
});
