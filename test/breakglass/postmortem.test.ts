import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../cli/support.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';
import { BREAKGLASS_POLICY, eventsOf, manualClock } from './support.js';

const HOUR = 3_600_000;

/** After every use a postmortem: reminded daily, overdue daily once late, closed only when complete. */
describe.each(STORE_KINDS)('break-glass postmortems (%s store)', (kind) => {
  let h: Harness;
  let url: string;
  const clock = manualClock();
  let pmId: string;
  let requestId: string;
  beforeAll(async () => {
    h = await createHarness(kind, { policy: BREAKGLASS_POLICY, clock: clock.now });
    url = await h.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await h?.close();
  });
  const cli = (user: string, argv: string[]) =>
    run(argv, { env: { STINT_URL: url, STINT_TOKEN: h.tokens[user] } });

  it('a use that simply expires gets its postmortem too, owned as the policy says, with the trail as its timeline', async () => {
    const made = await cli('bob', [
      'breakglass',
      'invoke',
      'staging-db',
      '--role',
      'read',
      '--reason',
      'INC-31 staging wedged',
      '--for',
      '5m',
    ]);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/break-glass on staging-db\/read: active \(request (req_[0-9a-f]{16})\)/);
    requestId = /request (req_[0-9a-f]{16})/.exec(made.stdout)?.[1] as string;
    clock.advance(5 * 60_000 + 1000);
    await h.stint.sweep();
    await h.stint.sweep();
    const [opened] = (await eventsOf(h, 'postmortem.opened')).filter((e) => e.requestId === requestId);
    expect(opened.details).toMatchObject({ subject: 'grant', owner: 'bob', notify: ['bob'] });
    pmId = opened.details.postmortemId;
    const shown = await cli('bob', ['breakglass', 'postmortem', pmId]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/owner:\s+bob/);
    for (const action of [
      'breakglass.invoked',
      'grant.activated',
      'grant.expired',
      'breakglass.rotated',
      'postmortem.opened',
    ]) {
      expect(shown.stdout).toContain(action);
    }
  });

  it('is reminded once a day while open, then alerted overdue (to security too) once a day until closed', async () => {
    clock.advance(23 * HOUR);
    await h.stint.sweep();
    expect(await eventsOf(h, 'postmortem.reminder')).toHaveLength(0);
    clock.advance(2 * HOUR);
    await h.stint.sweep();
    await h.stint.sweep();
    const reminders = await eventsOf(h, 'postmortem.reminder');
    expect(reminders).toHaveLength(1);
    expect(reminders[0].details).toMatchObject({ postmortemId: pmId, owner: 'bob', notify: ['bob'] });
    // Due after 5 days (the staging entry's default).
    clock.advance(4 * 24 * HOUR);
    await h.stint.sweep();
    const overdue = await eventsOf(h, 'postmortem.overdue');
    expect(overdue).toHaveLength(1);
    expect(overdue[0]).toMatchObject({ result: 'failure' });
    expect(overdue[0].details).toMatchObject({
      postmortemId: pmId,
      owner: 'bob',
      alert: true,
      notify: ['bob', 'security'],
    });
    clock.advance(HOUR);
    await h.stint.sweep();
    expect(await eventsOf(h, 'postmortem.overdue')).toHaveLength(1);
    clock.advance(24 * HOUR);
    await h.stint.sweep();
    expect(await eventsOf(h, 'postmortem.overdue')).toHaveLength(2);
    const listed = await cli('sam', ['breakglass', 'postmortems', '--overdue']);
    expect(listed.stdout).toMatch(new RegExp(`${pmId}.*OVERDUE`));
  });

  it('is filled in and closed by its owner or security, only with a classification and a root cause', async () => {
    expect((await h.as('mallory').get(`/v1/breakglass/postmortems/${pmId}`)).status).toBe(404);
    const stranger = await h
      .as('alice')
      .post(`/v1/breakglass/postmortems/${pmId}`, { classification: 'misuse' });
    expect(stranger.status).toBe(404);
    const incomplete = await cli('bob', [
      'breakglass',
      'postmortem',
      pmId,
      '--classification',
      'emergency',
      '--close',
    ]);
    expect(incomplete.code).toBe(1);
    expect(incomplete.stderr).toMatch(/cannot close without its root cause/);
    const filled = await cli('bob', [
      'breakglass',
      'postmortem',
      pmId,
      '--root-cause',
      'staging migrations locked the catalog',
      '--follow-up',
      'add a lock timeout',
      '--follow-up',
      'alert on long locks',
    ]);
    expect(filled.code, filled.stderr).toBe(0);
    const closed = await h.as('sam').post(`/v1/breakglass/postmortems/${pmId}/close`);
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    expect(closed.body).toMatchObject({
      state: 'closed',
      classification: 'emergency',
      rootCause: 'staging migrations locked the catalog',
      followUps: ['add a lock timeout', 'alert on long locks'],
      closedBy: 'sam',
    });
    expect(closed.body.timeline.map((e: { action: string }) => e.action)).toEqual(
      expect.arrayContaining(['postmortem.reminder', 'postmortem.overdue', 'postmortem.updated']),
    );
    // Closed: no more reminders, no more changes.
    clock.advance(48 * HOUR);
    await h.stint.sweep();
    expect(await eventsOf(h, 'postmortem.overdue')).toHaveLength(2);
    expect((await h.as('bob').post(`/v1/breakglass/postmortems/${pmId}`, { rootCause: 'x' })).status).toBe(
      400,
    );
    expect((await eventsOf(h, 'postmortem.closed'))[0].details).toMatchObject({
      postmortemId: pmId,
      classification: 'emergency',
    });
  });
});
