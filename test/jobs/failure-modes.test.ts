import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_CANCEL } from '../../src/providers/provider.js';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness, targetEnv } from '../support/harness.js';
import { connect, loginError, waitFor } from '../support/pg-client.js';
import { STORE_KINDS } from '../support/stores.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { TEST_POLICY } from '../support/test-policy.js';

describe.each(STORE_KINDS)('failures of the target and the store on %s', (kind) => {
  let proxy: TcpProxy;
  let h: Harness;
  beforeAll(async () => {
    // The target behind a proxy of our own, so taking it off the network disturbs no other test.
    const admin = new URL(targetEnv().STINT_TEST_DB_URL as string);
    proxy = await startTcpProxy(admin.hostname, Number(admin.port));
    admin.port = String(proxy.port);
    h = await createHarness(kind, {
      env: { STINT_TEST_DB_URL: admin.toString() },
      policy: TEST_POLICY.replace('pendingTimeout: 24h', 'pendingTimeout: 1s'),
    });
  });
  afterAll(async () => {
    await h?.close();
    await proxy?.close();
  });

  it('target down at expiry: the grant expires, revocation is pending and visible, retried until done', async () => {
    const { id, credential } = await activeGrant(h, {
      resource: 'staging-db',
      role: 'read',
      reason: 'debug',
      duration: '2s',
      take: true,
    });
    const url: string = credential.secret.url;
    await (await connect(url)).end();

    proxy.down();
    const pending = await waitFor(async () => {
      const r = await h.as('alice').get(`/v1/requests/${id}`);
      return r.body.revocationError ? r : null;
    });
    expect(pending.body.state).toBe('expired');
    expect(pending.body.revocation).toBe('pending');
    expect(pending.body.revocationError).toMatch(/postgres target|connect|ECONNREFUSED|timeout/i);
    const events = await h.as('erin').get(`/v1/audit/events?request=${id}`);
    expect(events.body.events.map((e: { action: string }) => e.action)).toContain('grant.revocation_failed');
    // The target out of reach is classified as such, and alerted once (issue 20).
    const overdue = events.body.events.filter(
      (e: { action: string }) => e.action === 'grant.revocation_overdue',
    );
    expect(overdue).toHaveLength(1);
    expect(overdue[0].details).toMatchObject({ class: 'unreachable', alert: true });

    proxy.up();
    // No access even before the retry lands: the target enforces the window itself.
    expect(await loginError(url)).not.toBeNull();
    const done = await waitFor(async () => {
      const r = await h.as('alice').get(`/v1/requests/${id}`);
      return r.body.revocation === 'done' ? r : null;
    }, 45_000);
    expect(done.body.revocationError).toBeNull();
    const grant = await h.testStore.store.db
      .selectFrom('grants')
      .select(['revoke_attempts', 'principal'])
      .where('request_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(grant.revoke_attempts).toBeGreaterThanOrEqual(1);
    const provider = h.stint.deps.providers.get(
      h.stint.deps.policy.current().resources.get('staging-db') as never,
    );
    expect((await provider.verifyRevoked({ principal: grant.principal }, NO_CANCEL)).gone).toBe(true);
  }, 60_000);

  it('a pending request times out unapproved and can no longer be approved', async () => {
    const created = await h
      .as('alice')
      .postSettled('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-5' });
    const id = created.body.id;
    const timedOut = await waitFor(async () => {
      const r = await h.as('alice').get(`/v1/requests/${id}`);
      return r.body.state === 'timed_out' ? r : null;
    });
    expect(timedOut.body.endedBy).toBe('stint');
    const late = await h.as('carol').postSettled(`/v1/requests/${id}/approve`, {});
    expect(late.body.error.code).toBe('INVALID_TRANSITION');
  });

  it('the reconciler removes a role Stint owns on the target that no grant accounts for', async () => {
    const resource = h.stint.deps.policy.current().resources.get('prod-db');
    if (!resource) throw new Error('policy lacks prod-db');
    const provider = h.stint.deps.providers.get(resource);
    const orphan = await provider.issue(
      {
        requestId: 'req_00000000deadbeef',
        requester: 'ghost',
        role: 'read',
        grants: ['app_read'],
        expiresAt: new Date(Date.now() + 3_600_000),
      },
      NO_CANCEL,
    );
    const session = await connect(orphan.secret.url as string);
    const reports = await h.stint.grants.reconcile();
    expect(reports.find((r) => r.resource === 'prod-db')?.removed).toContain(orphan.principal);
    expect((await provider.verifyRevoked({ principal: orphan.principal }, NO_CANCEL)).gone).toBe(true);
    await expect(session.query('SELECT 1')).rejects.toThrow();
    const events = await h.as('erin').get('/v1/audit/events?limit=1000');
    const removed = events.body.events.filter((e: { action: string }) => e.action === 'reconciler.removed');
    expect(removed.map((e: { details: { principal: string } }) => e.details.principal)).toContain(
      orphan.principal,
    );
  });

  it('fail closed: when the audit write fails, the approval does not happen and nothing is issued', async () => {
    const created = await h
      .as('alice')
      .postSettled('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-6' });
    const id = created.body.id;
    const db = h.testStore.store.db;
    if (kind === 'sqlite') {
      await sql`CREATE TRIGGER audit_down BEFORE INSERT ON audit_events WHEN NEW.action = 'request.approved'
        BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END`.execute(db);
    } else {
      await sql`CREATE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.action = 'request.approved' THEN RAISE EXCEPTION 'audit store unavailable'; END IF; RETURN NEW; END $$`.execute(
        db,
      );
      await sql`CREATE TRIGGER audit_down BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_down()`.execute(
        db,
      );
    }
    try {
      const res = await h.as('carol').postSettled(`/v1/requests/${id}/approve`, {});
      expect(res.status).toBe(500);
      expect(res.body.error.code).toBe('INTERNAL');
      expect(JSON.stringify(res.body)).not.toContain('audit store unavailable');
      const after = await h.as('alice').get(`/v1/requests/${id}`);
      expect(after.body.state).toBe('pending');
      expect(after.body.reviews).toEqual([]);
      const grants = await db
        .selectFrom('grants')
        .select('request_id')
        .where('request_id', '=', id)
        .execute();
      expect(grants).toEqual([]);
    } finally {
      await sql`DROP TRIGGER audit_down${kind === 'postgresql' ? sql` ON audit_events` : sql``}`.execute(db);
    }
    const retried = await h.as('carol').postSettled(`/v1/requests/${id}/approve`, {});
    expect(retried.body.state).toBe('active');
    await h.as('alice').post(`/v1/requests/${id}/revoke`, {});
  });
});
