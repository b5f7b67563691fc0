import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRevoker } from '../../src/grants/revoker.js';
import type { Logger } from '../../src/logger.js';
import type { Policy } from '../../src/policy/policy-types.js';
import { NO_CANCEL } from '../../src/providers/provider.js';
import { grantStore } from '../../src/store/grant-store.js';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness } from '../support/harness.js';

/** A grant whose resource left the policy can never be revoked by Stint: abandoned at once, not retried. */
describe('a revocation whose resource is no longer in the policy', () => {
  let h: Harness;
  beforeAll(async () => {
    // No sweeper: the revoker under test is the only one acting on the grant.
    h = await createHarness('sqlite', { start: false });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is abandoned on the first attempt, with an alerting event and an error line', async () => {
    const { id } = await activeGrant(h, {
      resource: 'staging-db',
      role: 'read',
      reason: 'debug',
      duration: '30m',
    });
    const db = h.stint.deps.store.db;
    await grantStore.markRevocationPending(db, id, new Date());
    const grant = await grantStore.get(db, id);
    if (!grant) throw new Error('no grant');

    const full = h.stint.deps.policy.current();
    const resources = new Map([...full.resources].filter(([rid]) => rid !== 'staging-db'));
    const withoutStaging: Policy = { ...full, resources };
    const errors: { obj: object; msg: string | undefined }[] = [];
    const logger: Logger = { info() {}, warn() {}, error: (obj, msg) => errors.push({ obj, msg }) };
    const revoker = createRevoker({ ...h.stint.deps, policy: { current: () => withoutStaging }, logger });

    expect(await revoker.revokeOnTarget(id)).toBe(false);
    expect(await grantStore.get(db, id)).toMatchObject({
      revocation: 'abandoned',
      revoke_attempts: 1,
      next_revoke_at: null,
      revoke_error: 'resource staging-db is no longer in the policy',
    });
    const events = await db
      .selectFrom('audit_events')
      .select(['action', 'body'])
      .where('request_id', '=', id)
      .execute();
    const abandoned = events.find((e) => e.action === 'grant.revocation_abandoned');
    expect(JSON.parse(abandoned?.body ?? '{}')).toMatchObject({
      result: 'failure',
      details: { resource: 'staging-db', principal: grant.principal, alert: true },
    });
    expect(errors).toHaveLength(1);
    // Terminal: a second attempt (a sweep, a user) changes nothing.
    expect(await revoker.revokeOnTarget(id)).toBe(false);
    expect((await grantStore.get(db, id))?.revoke_attempts).toBe(1);
    expect(errors).toHaveLength(1);
    const staging = full.resources.get('staging-db');
    if (!staging) throw new Error('policy lacks staging-db');
    await h.stint.deps.providers.get(staging).revoke({ principal: grant.principal }, NO_CANCEL);
  });
});
