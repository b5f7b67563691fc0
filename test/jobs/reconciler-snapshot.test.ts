import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { principalFor } from '../../src/providers/postgres/principal-name.js';
import { NO_CANCEL } from '../../src/providers/provider.js';
import { createHarness, type Harness } from '../support/harness.js';
import { waitFor } from '../support/pg-client.js';

/**
 * The reconciler must judge a role on the target by one consistent view of its request and grant. An activation
 * that commits while the reconciler reads (held here deterministically by a table lock on the store) used to
 * fall between its two queries: no grant yet in the first, `active` in the second, so a live role was removed.
 */
describe('reconciler reads grants and request states in one snapshot (PostgreSQL store)', () => {
  let h: Harness;
  let store: pg.Client;
  beforeAll(async () => {
    // Not started: no sweeper or timer queries the store, so the only waiter on the lock is the reconciler.
    h = await createHarness('postgresql', { start: false });
    store = new pg.Client({ connectionString: h.testStore.url });
    await store.connect();
  });
  afterAll(async () => {
    await store?.end();
    await h?.close();
  });

  it('an activation committing mid-read does not make its live role look orphaned', async () => {
    const created = await h
      .as('alice')
      .postSettled('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-9' });
    const id: string = created.body.id;
    // Approved and being issued, as the issuer leaves it between creating the role and recording the grant.
    await store.query(
      "UPDATE requests SET state = 'approved', approved_at = $2, issue_claimed_until = $3, version = version + 1 WHERE id = $1",
      [id, Date.now(), Date.now() + 3_600_000],
    );
    const resource = h.stint.deps.policy.current().resources.get('prod-db');
    if (!resource) throw new Error('policy lacks prod-db');
    const provider = h.stint.deps.providers.get(resource);
    const cred = await provider.issue(
      {
        requestId: id,
        requester: 'alice',
        role: 'admin',
        grants: ['app_admin'],
        expiresAt: new Date(Date.now() + 3_600_000),
      },
      NO_CANCEL,
    );
    expect(cred.principal).toBe(principalFor(id));

    await store.query('BEGIN');
    await store.query('LOCK TABLE requests IN ACCESS EXCLUSIVE MODE');
    const reconciling = h.stint.grants.reconcile();
    await waitFor(async () => {
      const { rows } = await store.query(
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
      );
      return rows.length > 0;
    });
    // What the issuer commits once the role exists: the grant row and the request active, together.
    const now = Date.now();
    await store.query(
      `INSERT INTO grants (request_id, resource, principal, credential_enc, credential_shown_at, revocation,
         revoke_attempts, next_revoke_at, revoke_error, revoked_at, created_at, vanished_at)
       VALUES ($1, 'prod-db', $2, NULL, NULL, 'none', 0, NULL, NULL, NULL, $3, NULL)`,
      [id, cred.principal, now],
    );
    await store.query(
      "UPDATE requests SET state = 'active', activated_at = $2, expires_at = $3, issue_claimed_until = NULL, version = version + 1 WHERE id = $1",
      [id, now, now + 3_600_000],
    );
    await store.query('COMMIT');

    const reports = await reconciling;
    expect(reports.flatMap((r) => r.removed)).not.toContain(cred.principal);
    expect((await provider.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(false);
    await h.as('alice').post(`/v1/requests/${id}/revoke`, { comment: 'done' });
    expect((await provider.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(true);
  });
});
