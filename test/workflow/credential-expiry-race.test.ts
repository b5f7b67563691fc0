import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness } from '../support/harness.js';
import { waitFor } from '../support/pg-client.js';

/**
 * A credential take racing the grant's expiry, made deterministic with a row lock on the store: the take has
 * read the request as active, then waits on the grant row while the expiry commits. A credential that was
 * never shown must not be reported as "already shown", nor handed out after its access ended.
 */
describe('credential take racing an expiry (PostgreSQL store)', () => {
  let h: Harness;
  let store: pg.Client;
  beforeAll(async () => {
    h = await createHarness('postgresql');
    store = new pg.Client({ connectionString: h.testStore.url });
    await store.connect();
  });
  afterAll(async () => {
    await store?.end();
    await h?.close();
  });

  it('answers 410 GRANT_EXPIRED when the expiry commits while the take waits', async () => {
    const { id } = await activeGrant(h, { resource: 'staging-db', role: 'read', reason: 'race' });

    await store.query('BEGIN');
    await store.query('SELECT 1 FROM grants WHERE request_id = $1 FOR UPDATE', [id]);
    const take = h.as('alice').post(`/v1/requests/${id}/credentials`);
    // The take is now blocked on the grant row, after it read the request as active.
    await waitFor(async () => {
      const { rows } = await store.query(
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
      );
      return rows.length > 0;
    });
    // What the expirer commits: the request ends, the grant goes to revocation pending, the secret is dropped.
    const now = Date.now();
    await store.query(
      "UPDATE requests SET state = 'expired', ended_at = $2, ended_by = 'stint', version = version + 1 WHERE id = $1",
      [id, now],
    );
    await store.query(
      "UPDATE grants SET revocation = 'pending', next_revoke_at = $2, credential_enc = NULL WHERE request_id = $1",
      [id, now],
    );
    await store.query('COMMIT');

    const res = await take;
    expect(res.status).toBe(410);
    expect(res.body.error.code).toBe('GRANT_EXPIRED');
    expect(res.body.secret).toBeUndefined();
    const after = await h.as('alice').get(`/v1/requests/${id}`);
    expect(after.body.credentialShown).toBe(false);
    const events = await h.as('erin').get(`/v1/audit/events?request=${id}`);
    expect(events.body.events.map((e: { action: string }) => e.action)).not.toContain('credential.shown');
  });

  it('still answers CREDENTIAL_ALREADY_SHOWN for a second take of a live grant', async () => {
    const { id } = await activeGrant(h, {
      resource: 'staging-db',
      role: 'read',
      reason: 'x',
      requester: 'bob',
    });
    const first = await h.as('bob').post(`/v1/requests/${id}/credentials`);
    expect(first.body.error).toBeUndefined();
    const again = await h.as('bob').post(`/v1/requests/${id}/credentials`);
    expect(again.status).toBe(410);
    expect(again.body.error.code).toBe('CREDENTIAL_ALREADY_SHOWN');
    await h.as('bob').post(`/v1/requests/${id}/revoke`, { comment: 'done' });
  });
});
