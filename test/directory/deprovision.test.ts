import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '../../src/audit/audit-store.js';
import { createTransitionRunner } from '../../src/audit/transition-runner.js';
import { createDeprovisioner, type Deprovisioner } from '../../src/directory/deprovision.js';
import { createRevoker } from '../../src/grants/revoker.js';
import { evaluateRequest } from '../../src/policy/policy-evaluator.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import { grantStore } from '../../src/store/grant-store.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';
import { TEST_POLICY } from '../support/test-policy.js';
import { GROUP, type ScimFixture, scimFixture, scimUser } from './scim-fixture.js';

const actor = (userId: string) => ({ userId, security: false, admin: false, auditor: false });

describe.each(STORE_KINDS)('a user removed over SCIM loses their active grant (%s)', (kind) => {
  let h: Harness;
  let f: ScimFixture;
  let deprovisioner: Deprovisioner;

  beforeAll(async () => {
    h = await createHarness(kind);
    const deps = h.stint.deps;
    deprovisioner = createDeprovisioner({
      ...deps,
      run: createTransitionRunner(deps),
      revoker: createRevoker(deps),
      onEnded: (id) => h.stint.grants.scheduler.cancel(id),
    });
    // Mallory comes from SCIM only, so removing her there removes her from the directory.
    const policy = parsePolicy(TEST_POLICY, 'test-policy.yaml');
    policy.users.delete('mallory');
    f = await scimFixture(h.testStore.store, {
      policy,
      audit: deps.audit,
      onRemoved: (ids) => deprovisioner.handleRemoved(ids),
    });
  });
  afterAll(async () => {
    await f?.close();
    await h?.close();
  });

  it('revokes it as stint, records directory.user_removed, and cleans the target', async () => {
    const sid = (await f.call('POST', '/scim/v2/Users', scimUser('mallory'))).body.id;
    await f.call('POST', '/scim/v2/Groups', {
      schemas: [GROUP],
      displayName: 'marketing',
      members: [{ value: sid }],
    });
    const input = { resource: 'staging-db', role: 'read', reason: 'debugging' };
    expect(evaluateRequest(f.policy.current(), { requester: 'mallory', ...input }).ruleId).toBe('staging');
    const created = await h.stint.requests.service.create(actor('mallory'), input);
    await h.settled(created.id);
    const granted = await h.stint.requests.service.get(actor('mallory'), created.id);
    expect(granted.state).toBe('active');

    expect((await f.call('DELETE', `/scim/v2/Users/${sid}`)).status).toBe(204);
    await deprovisioner.idle();

    const db = h.testStore.store.db;
    const request = await h.stint.deps.requests.mustGet(db, granted.id);
    expect(request).toMatchObject({
      state: 'revoked',
      endedBy: 'stint',
      endReason: 'removed from the directory',
    });
    expect((await grantStore.get(db, granted.id))?.revocation).toBe('done');
    const events = await listAudit(db, { limit: 1000 });
    const removed = events.find((e) => e.action === 'directory.user_removed');
    expect(removed).toMatchObject({ actor: 'stint', details: { userId: 'mallory', requests: [granted.id] } });
    const revoked = events.find((e) => e.action === 'grant.revoked' && e.requestId === granted.id);
    expect(revoked?.actor).toBe('stint');
    expect(revoked && removed && revoked.seq > removed.seq).toBe(true);
    expect(() => evaluateRequest(f.policy.current(), { requester: 'mallory', ...input })).toThrow(
      expect.objectContaining({ code: 'UNKNOWN_USER' }),
    );
  });

  it('sweeps grants of people who left while nobody watched', async () => {
    const created = await h.stint.requests.service.create(actor('alice'), {
      resource: 'staging-db',
      role: 'read',
      reason: 'debugging',
    });
    await h.settled(created.id);
    const granted = await h.stint.requests.service.get(actor('alice'), created.id);
    expect(granted.state).toBe('active');
    const ended = await deprovisioner.revokeOrphans((id) => id !== 'alice');
    expect(ended).toEqual([granted.id]);
    const request = await h.stint.deps.requests.mustGet(h.testStore.store.db, granted.id);
    expect(request).toMatchObject({ state: 'revoked', endedBy: 'stint' });
    expect(await deprovisioner.revokeOrphans(() => true)).toEqual([]);
  });
});
