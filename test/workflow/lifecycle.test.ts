import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { principalFor } from '../../src/providers/postgres/principal-name.js';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness } from '../support/harness.js';
import { connect, loginError, sessionEnded, waitFor } from '../support/pg-client.js';
import { STORE_KINDS } from '../support/stores.js';

/** Stint's roles on the shared test target; with a store id, only that store's (other test files run beside). */
async function stintRolesOnTarget(storeId?: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: inject('pgCluster').superuserUrl });
  await c.connect();
  const { rows } = await c.query<{ rolname: string }>(
    `SELECT rolname FROM pg_roles WHERE rolname LIKE 'stint\\_req\\_%'
       AND ($1::text IS NULL OR shobj_description(oid, 'pg_authid') LIKE '%;store=' || $1)`,
    [storeId ?? null],
  );
  await c.end();
  return rows.map((r) => r.rolname);
}

describe.each(STORE_KINDS)('elevation end to end on %s', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(kind);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('request → manager approval → working credential → revoke ends the live session', async () => {
    const created = await h.as('alice').postSettled('/v1/requests', {
      resource: 'prod-db',
      role: 'admin',
      reason: 'INC-4821',
      duration: '2h',
    });
    expect(created.status).toBe(201);
    expect(created.body.state).toBe('pending');
    expect(created.body.durationSeconds).toBe(7200);
    expect(created.body.waitingFor).toEqual([
      { tier: 'manager', label: expect.any(String), eligible: ['carol'] },
    ]);
    const id: string = created.body.id;

    const approved = await h.as('carol').postSettled(`/v1/requests/${id}/approve`, { comment: 'go ahead' });
    expect(approved.status).toBe(200);
    expect(approved.body.state).toBe('active');
    // The window starts at activation.
    const window = Date.parse(approved.body.expiresAt) - Date.parse(approved.body.activatedAt);
    expect(window).toBe(7200 * 1000);

    const cred = await h.as('alice').post(`/v1/requests/${id}/credentials`);
    expect(cred.status).toBe(200);
    const url: string = cred.body.secret.url;
    expect(url).toMatch(/^postgres(ql)?:\/\//);
    expect((await h.as('alice').post(`/v1/requests/${id}/credentials`)).body.error.code).toBe(
      'CREDENTIAL_ALREADY_SHOWN',
    );

    // Exactly the role's privileges: app_admin may write the accounts table, and may not create roles.
    const session = await connect(url);
    await session.query(
      "INSERT INTO accounts VALUES (1000 + floor(random() * 1000000)::int, 'from-stint', 1)",
    );
    await expect(session.query('CREATE ROLE sneaky LOGIN')).rejects.toThrow(/permission denied/);
    await session.query('SET ROLE app_admin');

    const ended = sessionEnded(session);
    const revoked = await h.as('alice').post(`/v1/requests/${id}/revoke`, { comment: 'done early' });
    expect(revoked.status).toBe(200);
    expect(revoked.body.state).toBe('revoked');
    expect(revoked.body.revocation).toBe('done');
    await ended;
    await expect(session.query('SELECT 1')).rejects.toThrow();
    expect(await loginError(url)).toMatch(/password authentication failed|does not exist/);
    expect(await stintRolesOnTarget()).not.toContain(cred.body.principal);

    const audit = await h.as('alice').get(`/v1/audit/events?request=${id}`);
    const actions = audit.body.events.map((e: { action: string }) => e.action);
    expect(actions).toEqual([
      'request.created',
      'request.approved',
      'grant.activated',
      'credential.shown',
      'grant.revoked',
      'grant.revocation_completed',
    ]);
    const approvedEvent = audit.body.events[1];
    expect(approvedEvent.actor).toBe('carol');
    expect(audit.body.events[0].details.reason).toBe('INC-4821');
    // No secret in any event of the whole trail: not the password, the connection string, or any API token.
    await h.stint.audit.log.build();
    const leaves = await h.as('erin').get('/v1/audit/leaves?limit=10000');
    const trail = JSON.stringify(leaves.body.leaves);
    expect(trail).toContain('INC-4821');
    for (const secret of [cred.body.secret.password, url, ...Object.values(h.tokens)]) {
      expect(trail).not.toContain(secret);
    }
  });

  it('expiry with nobody doing anything: new logins refused and a SET ROLE session terminated on time', async () => {
    const { id, created, request, credential } = await activeGrant(h, {
      resource: 'prod-db',
      role: 'read',
      reason: 'looking at INC-7',
      duration: '2s',
      approvers: ['bob'],
      take: true,
    });
    expect(created.waitingFor[0].eligible).toEqual(['bob']);
    const expiresAt = Date.parse(request.expiresAt);
    const session = await connect(credential.secret.url);
    await session.query('SET ROLE app_read');
    expect((await session.query('SELECT count(*)::int AS n FROM accounts')).rows[0].n).toBeGreaterThan(0);
    await expect(session.query("INSERT INTO accounts VALUES (-1, 'x', 0)")).rejects.toThrow(
      /permission denied/,
    );

    const endedAt = await sessionEnded(session);
    expect(endedAt - expiresAt).toBeLessThan(1000);
    expect(await loginError(credential.secret.url)).not.toBeNull();
    const after = await waitFor(async () => {
      const r = await h.as('alice').get(`/v1/requests/${id}`);
      return r.body.revocation === 'done' ? r : null;
    });
    expect(after.body.state).toBe('expired');
    expect(await stintRolesOnTarget()).not.toContain(credential.principal);
  });

  it('an auto-approved role is active at once; a target that is down fails issuance with nothing left', async () => {
    const auto = await activeGrant(h, { resource: 'staging-db', role: 'read', reason: 'debug' });
    expect(auto.request.reviews).toEqual([]);

    const before = await stintRolesOnTarget(h.storeId);
    // Not vacuous: the auto-approved grant just issued is among this store's roles.
    expect(before).toContain(principalFor(auto.id));
    const down = await h
      .as('alice')
      .postSettled('/v1/requests', { resource: 'down-db', role: 'read', reason: 'debug' });
    expect(down.status).toBe(201);
    expect(down.body.state).toBe('failed');
    expect(down.body.endReason).toMatch(/issuing the credential failed/);
    expect(down.body.endReason).not.toContain('nope');
    expect(await stintRolesOnTarget(h.storeId)).toEqual(before);
    expect(await stintRolesOnTarget()).not.toContain(principalFor(down.body.id));
    const creds = await h.as('alice').post(`/v1/requests/${down.body.id}/credentials`);
    expect(creds.body.error.code).toBe('CREDENTIAL_NOT_AVAILABLE');
  });

  it('two approvers racing on one slot issue exactly one credential', async () => {
    for (let round = 0; round < 5; round++) {
      const created = await h
        .as('alice')
        .postSettled('/v1/requests', { resource: 'prod-db', role: 'ops', reason: 'INC-9' });
      expect(created.body.waitingFor[0].eligible).toEqual(['dave', 'sam']);
      const id = created.body.id;
      const results = await Promise.all([
        h.as('sam').postSettled(`/v1/requests/${id}/approve`, {}),
        h.as('dave').postSettled(`/v1/requests/${id}/approve`, {}),
      ]);
      const ok = results.filter((r) => r.status === 200);
      expect(ok).toHaveLength(1);
      const loser = results.find((r) => r.status !== 200);
      expect(['INVALID_TRANSITION', 'CONCURRENT_UPDATE']).toContain(loser?.body.error.code);
      const events = await h.as('alice').get(`/v1/audit/events?request=${id}`);
      const actions = events.body.events.map((e: { action: string }) => e.action);
      expect(actions.filter((a: string) => a === 'grant.activated')).toHaveLength(1);
      expect(actions.filter((a: string) => a === 'request.approved')).toHaveLength(1);
      const r = await h.as('alice').post(`/v1/requests/${id}/revoke`, {});
      expect(r.body.revocation).toBe('done');
    }
  });

  it('several tiers at once: manager AND two-person, and one person never fills two slots', async () => {
    const created = await h
      .as('alice')
      .postSettled('/v1/requests', { resource: 'payments-db', role: 'admin', reason: 'INC-77' });
    const id = created.body.id;
    expect(created.body.waitingFor).toHaveLength(3);
    expect((await h.as('sam').postSettled(`/v1/requests/${id}/approve`, {})).body.state).toBe('pending');
    expect((await h.as('sam').postSettled(`/v1/requests/${id}/approve`, {})).body.error.code).toBe(
      'ALREADY_REVIEWED',
    );
    expect((await h.as('carol').postSettled(`/v1/requests/${id}/approve`, {})).body.state).toBe('pending');
    const last = await h.as('bob').postSettled(`/v1/requests/${id}/approve`, {});
    expect(last.body.state).toBe('active');
    await h.as('alice').post(`/v1/requests/${id}/revoke`, {});
  });
});
