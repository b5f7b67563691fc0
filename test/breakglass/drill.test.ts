import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSeal } from '../../src/breakglass/seal-crypto.js';
import { run } from '../cli/support.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';
import { acknowledge, BREAKGLASS_POLICY, eventsOf } from './support.js';

/** Waits until `find` answers something, polling the store. */
async function until<T>(find: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The drill invokes break-glass for real on the test cluster and checks every link; the test plays the
 * notifier's receivers, acknowledging the alert on each channel as a person on call would.
 */
describe.each(STORE_KINDS)('break-glass drills (%s store)', (kind) => {
  let h: Harness;
  let url: string;
  beforeAll(async () => {
    h = await createHarness(kind, { policy: BREAKGLASS_POLICY });
    url = await h.app.listen({ host: '127.0.0.1', port: 0 });
    const { bundle, shares } = await makeSeal({
      scope: 'prod-db',
      label: 'prod-db superuser',
      threshold: 2,
      officers: ['sam', 'dave', 'carol'],
      secret: 'emergency-password',
    });
    const { v: _v, ...body } = bundle;
    expect((await h.as('sam').post('/v1/breakglass/seals', body)).status).toBe(201);
    // The officers prove the seal still opens, without revealing it.
    const id = (
      await h.as('sam').post('/v1/breakglass/unseal', { scope: 'prod-db', reason: 'drill', drill: true })
    ).body.id;
    for (const s of shares.slice(0, 2)) {
      const given = await h.as(s.officer).post(`/v1/breakglass/unseal/${id}/shares`, { share: s.text });
      expect(given.status, JSON.stringify(given.body)).toBe(200);
    }
  });
  afterAll(async () => {
    await h?.close();
  });

  /** Acknowledges the drill's alert on each channel once it has been raised. */
  async function receivers(drillId: string, channels: string[]): Promise<void> {
    const invoked = await until(async () =>
      (await eventsOf(h, 'breakglass.invoked')).find((e) => e.details.drillId === drillId),
    );
    for (const channel of channels) await acknowledge(h, invoked.seq, channel, `${channel}-oncall`);
  }

  it('`stint breakglass drill` passes when every link holds, and says so step by step', async () => {
    const drilling = run(['breakglass', 'drill', 'prod-db', '--role', 'read', '--ack-timeout', '20s'], {
      env: { STINT_URL: url, STINT_TOKEN: h.tokens.alice },
    });
    const started = await until(async () => (await eventsOf(h, 'drill.started'))[0]);
    await receivers(started.details.drillId, ['security-pager', 'security-chat']);
    const r = await drilling;
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/drill drill_[0-9a-f]{16} of prod-db\/read: PASSED/);
    for (const step of ['unseal', 'invoke', 'credential', 'channels', 'revoked', 'rotated', 'audit']) {
      expect(r.stdout).toMatch(new RegExp(`PASSED\\s+${step}\\b`));
    }
    const [passed] = await eventsOf(h, 'drill.passed');
    expect(passed.details).toMatchObject({ drillId: started.details.drillId, resource: 'prod-db' });
    // Access ended and its postmortem is a drill's.
    const drill = (await h.as('alice').get(`/v1/breakglass/drills/${started.details.drillId}`)).body;
    const request = (await h.as('alice').get(`/v1/requests/${drill.requestId}`)).body;
    expect(request).toMatchObject({ state: 'revoked', revocation: 'done' });
    const [opened] = (await eventsOf(h, 'postmortem.opened')).filter((e) => e.requestId === drill.requestId);
    expect(opened.details.classification).toBe('drill');
    expect((await eventsOf(h, 'drill.step')).filter((e) => e.details.drillId === drill.id)).toHaveLength(7);
  });

  it('fails at the step that breaks (a channel nobody acknowledges), still takes the access back, and alerts', async () => {
    const started = await h
      .as('alice')
      .post('/v1/breakglass/drills', { resource: 'prod-db', role: 'read', ackTimeout: '1s' });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const id: string = started.body.id;
    // Only the pager answers; the chat channel stays silent.
    await receivers(id, ['security-pager']);
    const done = await until(async () => {
      const d = (await h.as('alice').get(`/v1/breakglass/drills/${id}`)).body;
      return d.state === 'running' ? undefined : d;
    });
    expect(done.state).toBe('failed');
    const byName = Object.fromEntries(
      done.steps.map((s: { name: string; state: string }) => [s.name, s.state]),
    );
    expect(byName).toEqual({
      unseal: 'passed',
      invoke: 'passed',
      credential: 'passed',
      channels: 'failed',
      revoked: 'passed',
      rotated: 'passed',
      audit: 'passed',
    });
    expect(done.steps.find((s: { name: string }) => s.name === 'channels').detail).toMatch(/security-chat/);
    const [failed] = (await eventsOf(h, 'drill.failed')).filter((e) => e.details.drillId === id);
    expect(failed).toMatchObject({ result: 'failure' });
    expect(failed.details).toMatchObject({ step: 'channels', alert: true, notify: ['security'] });
    expect((await h.as('alice').get(`/v1/requests/${done.requestId}`)).body.state).toBe('revoked');
  });

  it('fails at the unseal step where no seal was opened, and is refused to someone who may not break glass', async () => {
    const refused = await h.as('mallory').post('/v1/breakglass/drills', { resource: 'prod-db' });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('NOT_ELIGIBLE');
    const started = await h
      .as('bob')
      .post('/v1/breakglass/drills', { resource: 'staging-db', ackTimeout: '1s' });
    expect(started.status).toBe(202);
    await receivers(started.body.id, ['security-pager']);
    const done = await until(async () => {
      const d = (await h.as('bob').get(`/v1/breakglass/drills/${started.body.id}`)).body;
      return d.state === 'running' ? undefined : d;
    });
    expect(done.steps[0]).toMatchObject({ name: 'unseal', state: 'failed' });
    expect(done.steps[0].detail).toMatch(/no sealed secret for staging-db/);
    const [failed] = (await eventsOf(h, 'drill.failed')).filter((e) => e.details.drillId === started.body.id);
    expect(failed.details.step).toBe('unseal');
  });

  it('every event it wrote matches the JSON schema documented in docs/audit.md', async () => {
    const doc = readFileSync(new URL('../../docs/audit.md', import.meta.url), 'utf8');
    const block = /```json\n(\{\n {2}"\$schema"[\s\S]*?)```/.exec(doc)?.[1];
    const ajv = new Ajv2020({ allErrors: true, validateFormats: false });
    const validate = ajv.compile(JSON.parse(block ?? 'null'));
    const rows = await h.testStore.store.db
      .selectFrom('audit_events')
      .select('body')
      .orderBy('seq')
      .execute();
    const actions = new Set<string>();
    for (const row of rows) {
      const event = JSON.parse(row.body as string);
      actions.add(event.action);
      expect(validate(event), `${event.action}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
    for (const action of [
      'breakglass.invoked',
      'postmortem.opened',
      'drill.passed',
      'drill.failed',
      'request.approved',
    ]) {
      expect(actions).toContain(action);
    }
  });
});
