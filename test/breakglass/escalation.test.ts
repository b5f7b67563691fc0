import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';
import { acknowledge, BREAKGLASS_POLICY, eventsOf, manualClock, stepUpAgain, stepUpAll } from './support.js';

const MINUTE = 60_000;

/** The prod-db entry escalates after 10 minutes without an acknowledgement; the clock is moved by hand. */
describe.each(STORE_KINDS)('escalation of an unacknowledged break-glass alert (%s store)', (kind) => {
  let h: Harness;
  const clock = manualClock();
  let factors: Record<string, string>;
  beforeAll(async () => {
    h = await createHarness(kind, { policy: BREAKGLASS_POLICY, clock: clock.now, stepUp: false });
    factors = await stepUpAll(h, ['alice', 'bob', 'sam']);
  });
  afterAll(async () => {
    await h?.close();
  });

  const escalationsOf = async (invokedSeq: number) =>
    (await eventsOf(h, 'breakglass.escalated')).filter((e) => e.details.invokedSeq === invokedSeq);

  it('escalates after N minutes without an acknowledgement, not before; an acknowledgement stops it', async () => {
    const res = await h
      .as('alice')
      .post('/v1/breakglass', { resource: 'prod-db', role: 'read', reason: 'INC-1' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const seq: number = res.body.invokedSeq;
    clock.advance(10 * MINUTE - 1000);
    await h.stint.sweep();
    expect(await escalationsOf(seq)).toEqual([]);
    clock.advance(1000);
    await h.stint.sweep();
    const [first] = await escalationsOf(seq);
    expect(first.details).toEqual({
      invokedSeq: seq,
      level: 1,
      channels: ['security-pager', 'security-chat'],
      resource: 'prod-db',
      holder: 'alice',
      unacknowledgedFor: '10m',
      alert: true,
      notify: ['security'],
    });
    expect(first.requestId).toBe(res.body.requestId);
    // A sweep run again (another server) does not escalate twice.
    await h.stint.sweep();
    expect(await escalationsOf(seq)).toHaveLength(1);

    // An acknowledgement of an unrelated event changes nothing; one of the escalation ends it.
    await acknowledge(h, seq - 1, 'security-pager');
    clock.advance(10 * MINUTE);
    await h.stint.sweep();
    expect(await escalationsOf(seq)).toHaveLength(2);
    await acknowledge(h, first.seq, 'security-pager', 'sam');
    await h.stint.sweep();
    const [acked] = (await eventsOf(h, 'breakglass.acknowledged')).filter(
      (e) => e.details.invokedSeq === seq,
    );
    expect(acked.details).toMatchObject({ invokedSeq: seq, by: 'sam', channel: 'security-pager', level: 2 });
    clock.advance(60 * MINUTE);
    await h.stint.sweep();
    expect(await escalationsOf(seq)).toHaveLength(2);
    const listed = await h.as('sam').get('/v1/breakglass');
    const mine = listed.body.invocations.find(
      (i: { requestId: string }) => i.requestId === res.body.requestId,
    );
    expect(mine).toMatchObject({ escalationLevel: 2, invokedSeq: seq });
    expect(mine.acknowledgedAt).not.toBeNull();
  });

  it('an acknowledgement within the time: no escalation at all; none: three levels, then it stops', async () => {
    await stepUpAgain(h, 'bob', factors.bob as string);
    const acked = await h
      .as('bob')
      .post('/v1/breakglass', { resource: 'staging-db', role: 'read', reason: 'INC-2' });
    expect(acked.status, JSON.stringify(acked.body)).toBe(201);
    await acknowledge(h, acked.body.invokedSeq, 'security-pager');
    clock.advance(16 * MINUTE);
    await h.stint.sweep();
    expect(await escalationsOf(acked.body.invokedSeq)).toEqual([]);
    await h.as('bob').post(`/v1/requests/${acked.body.requestId}/revoke`, {});
    await stepUpAgain(h, 'bob', factors.bob as string);

    const silent = await h
      .as('bob')
      .post('/v1/breakglass', { resource: 'staging-db', role: 'read', reason: 'INC-3' });
    expect(silent.status, JSON.stringify(silent.body)).toBe(201);
    for (let i = 0; i < 5; i++) {
      clock.advance(15 * MINUTE);
      await h.stint.sweep();
    }
    const levels = (await escalationsOf(silent.body.invokedSeq)).map((e) => e.details.level);
    expect(levels).toEqual([1, 2, 3]);
  });
});
