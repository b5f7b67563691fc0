import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSeal } from '../../src/breakglass/seal-crypto.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';
import { BREAKGLASS_POLICY, eventsOf, manualClock } from './support.js';

const DAY = 86_400_000;

/** When no passing drill exists within the period, `drill.failed` (step `schedule`) alerts, daily. */
describe.each(STORE_KINDS)('the drill schedule (%s store)', (kind) => {
  let h: Harness;
  const clock = manualClock();
  beforeAll(async () => {
    h = await createHarness(kind, {
      policy: BREAKGLASS_POLICY.replace(
        '    maxDuration: 1h\n',
        '    maxDuration: 1h\n    drillEvery: 90d\n',
      ),
      clock: clock.now,
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  const scheduleAlerts = async (resource: string) =>
    (await eventsOf(h, 'drill.failed')).filter(
      (e) => e.details.step === 'schedule' && e.details.resource === resource,
    );

  it('new officers make a drill due within 30 days; an interval (90 days here) passing without one alerts too', async () => {
    await h.stint.sweep();
    // The prod-db seal's first officers: a drill is due within 30 days of them, whatever the interval.
    const { bundle } = await makeSeal({
      scope: 'prod-db',
      label: 'su',
      threshold: 2,
      officers: ['sam', 'dave'],
      secret: 's',
    });
    const { v: _v, ...body } = bundle;
    expect((await h.as('sam').post('/v1/breakglass/seals', body)).status).toBe(201);
    clock.advance(30 * DAY - 1000);
    await h.stint.sweep();
    expect(await scheduleAlerts('prod-db')).toEqual([]);
    clock.advance(2000);
    await h.stint.sweep();
    const [alert] = await scheduleAlerts('prod-db');
    expect(alert).toMatchObject({ result: 'failure' });
    expect(alert.details).toMatchObject({
      drillId: null,
      step: 'schedule',
      alert: true,
      notify: ['security'],
      lastGoodDrillAt: null,
    });
    // Once a day, not on every sweep.
    await h.stint.sweep();
    expect(await scheduleAlerts('prod-db')).toHaveLength(1);
    clock.advance(DAY);
    await h.stint.sweep();
    expect(await scheduleAlerts('prod-db')).toHaveLength(2);
    expect(await scheduleAlerts('staging-db')).toEqual([]);
    // staging-db drills every 90 days (its entry); nothing was drilled since the schedule began.
    clock.advance(60 * DAY);
    await h.stint.sweep();
    expect(await scheduleAlerts('staging-db')).toHaveLength(1);
  });
});
