import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { run } from '../cli/support.js';
import { createHarness, type Harness } from '../support/harness.js';
import { type MariaDbServer, startMariaDb } from '../support/mariadb-server.js';
import { connectAs, pgUrl } from '../support/pg-cluster.js';
import { STORE_KINDS } from '../support/stores.js';

/**
 * The quarterly conversion walked end to end against real targets: the run's scram PostgreSQL cluster (Stint's
 * least-privileged admin as docs/postgres-target.md sets it up) and this file's own mariadbd (per file: the global
 * setup belongs to the PostgreSQL cluster, and a mariadbd is up in about a second). Standing accounts that hold the
 * policy's app_admin all the time are listed, planned, confirmed entitled, removed on the target (proved by logging
 * in as them), completed; every step is in the audit trail; a skipped step is refused; the quarter's report counts.
 */
const cluster = inject('pgCluster');
const QUARTER = '2026-Q4';

const policyText = `
version: 1
settings: { deployment: conversion-test, hardCap: 4h, pendingTimeout: 24h }
users:
  - { id: alice, email: alice@example.com, name: Alice, manager: carol, teams: [payments] }
  - { id: carol, email: carol@example.com, name: Carol, teams: [leads] }
  - { id: sam, email: sam@example.com, name: Sam, teams: [security], security: true }
  - { id: erin, email: erin@example.com, name: Erin, teams: [audit], auditor: true }
  - { id: root, email: root@example.com, name: Root, teams: [platform], admin: true }
resources:
  - id: conv-pg
    kind: postgres
    description: Conversion target (PostgreSQL)
    sensitivity: critical
    connection: { env: STINT_TEST_DB_URL }
    roles:
      admin: { description: Full access, grants: [app_admin] }
      unasked: { description: Defined but nobody may ask, grants: [app_admin] }
  - id: conv-mdb
    kind: mariadb
    description: Conversion target (MariaDB)
    sensitivity: critical
    connection: { env: STINT_CONV_MDB_URL }
    roles:
      admin: { description: Full access, grants: [app_admin] }
rules:
  - id: conv-admin
    resources: [conv-pg, conv-mdb]
    roles: [admin]
    who: { teams: [payments] }
    duration: { default: 1h, max: 4h }
    ticket: { required: false, patterns: [] }
    approval: [manager]
`;

/** One resource of GET /v1/inventory, as far as these tests read it. */
interface Inventory {
  ok: boolean;
  removable: boolean;
  principals: { principal: string; privileges: string[] }[];
  entitlements: unknown[];
}

let mdb: MariaDbServer;
let mdbRoot: mysql.Connection;
let pgRoot: pg.Client;

beforeAll(async () => {
  mdb = await startMariaDb();
  mdbRoot = await mdb.root();
  pgRoot = await connectAs(pgUrl(cluster, 'postgres', new URL(cluster.superuserUrl).password, 'app'));
});

afterAll(async () => {
  await pgRoot?.end();
  await mdbRoot?.end();
  await mdb?.stop();
});

/** Logs in as a PostgreSQL role and asks whether it is a member of app_admin now. */
async function pgHolds(role: string, password: string): Promise<boolean> {
  const c = await connectAs(pgUrl(cluster, role, password, 'app'));
  try {
    const { rows } = await c.query<{ m: boolean }>("SELECT pg_has_role('app_admin', 'MEMBER') AS m");
    if (rows[0]?.m !== true) {
      // The target's own refusal, not only the catalog's word.
      await expect(c.query('SET ROLE app_admin')).rejects.toThrow(/permission denied/);
    }
    return rows[0]?.m === true;
  } finally {
    await c.end();
  }
}

/** Logs in as a MariaDB account and tries to take up app_admin. */
async function mdbHolds(user: string, password: string): Promise<boolean> {
  const c = await mysql.createConnection({ host: mdb.host, port: mdb.port, user, password });
  try {
    await c.query('SET ROLE app_admin');
    const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT CURRENT_ROLE() AS r');
    return rows[0]?.r === 'app_admin';
  } catch (e) {
    expect(String(e)).toMatch(/Invalid role specification/);
    return false;
  } finally {
    await c.end();
  }
}

describe.each(STORE_KINDS)('standing-access conversion on %s', (kind) => {
  const tag = randomBytes(4).toString('hex');
  const pgRole = `conv_team_${kind.slice(0, 2)}_${tag}`;
  const pgOther = `conv_other_${kind.slice(0, 2)}_${tag}`;
  const mdbUser = `conv_${kind.slice(0, 2)}_${tag}`;
  const mdbAccount = `'${mdbUser}'@'%'`;
  const pw = randomBytes(18).toString('base64url');
  let h: Harness;

  beforeAll(async () => {
    await pgRoot.query(`
      CREATE ROLE ${pgRole} LOGIN PASSWORD ${pg.escapeLiteral(pw)};
      GRANT app_admin TO ${pgRole};
      CREATE ROLE ${pgOther} LOGIN PASSWORD ${pg.escapeLiteral(pw)};
      GRANT app_admin TO ${pgOther};
    `);
    await mdbRoot.query("CREATE USER ?@'%' IDENTIFIED BY ?", [mdbUser, pw]);
    await mdbRoot.query(`GRANT app_admin TO ?@'%'`, [mdbUser]);
    h = await createHarness(kind, { policy: policyText, env: { STINT_CONV_MDB_URL: mdb.stintAdminUrl } });
  });

  afterAll(async () => {
    await h?.close();
    await pgRoot.query(`DROP ROLE IF EXISTS ${pgRole}; DROP ROLE IF EXISTS ${pgOther}`);
  });

  const plan = (body: Record<string, string>, as = 'sam') =>
    h.as(as).post('/v1/conversions', { quarter: QUARTER, jitRole: 'admin', ...body });

  it('lists the standing holders beside the JIT entitlements, per resource', async () => {
    const res = await h.as('erin').get('/v1/inventory');
    expect(res.status).toBe(200);
    const byId = new Map(res.body.resources.map((r: { resource: string }) => [r.resource, r]));
    const pgInv = byId.get('conv-pg') as Inventory;
    expect(pgInv.ok).toBe(true);
    expect(pgInv.removable).toBe(true);
    const team = pgInv.principals.find((p) => p.principal === pgRole);
    expect(team?.privileges).toEqual(['member of app_admin']);
    expect(pgInv.entitlements).toEqual([
      { role: 'admin', grants: ['app_admin'], rules: ['conv-admin'] },
      { role: 'unasked', grants: ['app_admin'], rules: [] },
    ]);
    const mdbInv = byId.get('conv-mdb') as Inventory;
    expect(mdbInv.ok).toBe(true);
    const acct = mdbInv.principals.find((p) => p.principal === mdbAccount);
    expect(acct?.privileges).toEqual(['role app_admin']);
    // Nobody below security, auditors and admins reads it.
    expect((await h.as('alice').get('/v1/inventory')).status).toBe(403);
  });

  it('walks a PostgreSQL and a MariaDB conversion end to end, refusing every skipped step', async () => {
    expect(await pgHolds(pgRole, pw)).toBe(true);
    expect(await mdbHolds(mdbUser, pw)).toBe(true);

    for (const [resource, principal, privilege, holds] of [
      ['conv-pg', pgRole, 'member of app_admin', () => pgHolds(pgRole, pw)],
      ['conv-mdb', mdbAccount, 'role app_admin', () => mdbHolds(mdbUser, pw)],
    ] as const) {
      // An auditor reads; only security and admins change a target.
      expect((await plan({ resource, principal, privilege }, 'erin')).status).toBe(403);
      const planned = await plan({ resource, principal, privilege });
      expect(planned.status).toBe(201);
      expect(planned.body).toMatchObject({
        state: 'planned',
        resource,
        principal,
        privilege,
        quarter: QUARTER,
      });
      const id = planned.body.id as string;
      // One open conversion per standing grant.
      expect((await plan({ resource, principal, privilege })).body.error.code).toBe('CONCURRENT_UPDATE');

      // Skipping ahead changes nothing, on the target either.
      for (const step of ['removed', 'done'] as const) {
        const skipped = await h.as('sam').post(`/v1/conversions/${id}/${step}`);
        expect(skipped.status).toBe(409);
        expect(skipped.body.error.code).toBe('INVALID_TRANSITION');
      }
      expect(await holds()).toBe(true);

      const entitled = await h.as('sam').post(`/v1/conversions/${id}/entitled`);
      expect(entitled.status).toBe(200);
      expect(entitled.body).toMatchObject({ state: 'entitled', rules: ['conv-admin'] });
      expect((await h.as('sam').post(`/v1/conversions/${id}/entitled`)).status).toBe(409);

      const removed = await h.as('root').post(`/v1/conversions/${id}/removed`);
      expect(removed.status).toBe(200);
      expect(removed.body.state).toBe('removed');
      expect(await holds()).toBe(false);
      const inv = await h.as('erin').get('/v1/inventory');
      const row = inv.body.resources.find((r: { resource: string }) => r.resource === resource);
      expect(row.principals.find((p: { principal: string }) => p.principal === principal)).toBeUndefined();

      const done = await h.as('sam').post(`/v1/conversions/${id}/done`);
      expect(done.status).toBe(200);
      expect(done.body.state).toBe('done');
      expect((await h.as('sam').post(`/v1/conversions/${id}/removed`)).status).toBe(409);
      expect((await h.as('sam').post(`/v1/conversions/${id}/abandon`, { reason: 'late' })).status).toBe(409);

      const events = await h.as('erin').get('/v1/audit/events?limit=1000');
      const trail = events.body.events
        .filter((e: { details: { conversion?: string } }) => e.details.conversion === id)
        .map((e: { action: string; actor: string }) => [e.action, e.actor]);
      expect(trail).toEqual([
        ['conversion.planned', 'sam'],
        ['conversion.entitled', 'sam'],
        ['conversion.standing_removed', 'root'],
        ['conversion.completed', 'sam'],
      ]);
    }
  });

  it('verifies the entitlement in the loaded policy and never plans what the target does not list', async () => {
    expect(
      (await plan({ resource: 'conv-pg', principal: 'no_such_role', privilege: 'member of app_admin' })).body
        .error.code,
    ).toBe('VALIDATION_FAILED');
    expect(
      (await plan({ resource: 'conv-pg', principal: pgOther, privilege: 'SUPERUSER' })).body.error.message,
    ).toMatch(/does not hold "SUPERUSER"/);
    expect(
      (
        await plan({
          resource: 'conv-pg',
          principal: pgOther,
          privilege: 'member of app_admin',
          quarter: '2026-Q5',
        })
      ).status,
    ).toBe(400);

    // A JIT role the policy does not define, then one nobody may ask for: both refused at `entitled`.
    const ghost = await plan({
      resource: 'conv-pg',
      principal: pgOther,
      privilege: 'member of app_admin',
      jitRole: 'ghost',
    });
    expect(ghost.status).toBe(201);
    const refused = await h.as('sam').post(`/v1/conversions/${ghost.body.id}/entitled`);
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('UNKNOWN_ROLE');
    expect((await h.as('sam').get(`/v1/conversions/${ghost.body.id}`)).body.state).toBe('planned');
    const abandoned = await h
      .as('sam')
      .post(`/v1/conversions/${ghost.body.id}/abandon`, { reason: 'wrong role' });
    expect(abandoned.body.state).toBe('abandoned');

    const unasked = await plan({
      resource: 'conv-pg',
      principal: pgOther,
      privilege: 'member of app_admin',
      jitRole: 'unasked',
    });
    const noRule = await h.as('sam').post(`/v1/conversions/${unasked.body.id}/entitled`);
    expect(noRule.status).toBe(400);
    expect(noRule.body.error.message).toMatch(/no rule/);
    // Left planned: the report names it as what remains.
    expect(await pgHolds(pgOther, pw)).toBe(true);
  });

  it('refuses to remove what the admin may not take back, changing nothing', async () => {
    const service = h.stint.conversion.service;
    const sam = { userId: 'sam', security: true, admin: false, auditor: false };
    const resource = h.stint.deps.policy.current().resources.get('conv-pg');
    if (!resource) throw new Error('no conv-pg');
    const provider = h.stint.deps.providers.get(resource);
    await expect(
      provider.removeStanding?.({ principal: pgOther, privilege: 'SUPERUSER' }, AbortSignal.timeout(5_000)),
    ).rejects.toMatchObject({ code: 'PROVIDER_ERROR', details: { class: 'refused' } });
    await expect(
      provider.removeStanding?.(
        { principal: 'stint_admin', privilege: 'member of app_admin' },
        AbortSignal.timeout(5_000),
      ),
    ).rejects.toThrow(/Stint's own admin role/);
    expect(await pgHolds(pgOther, pw)).toBe(true);
    expect((await service.list(sam, QUARTER)).length).toBe(4);

    // Held directly and through another role: revoking the direct grant would leave it, so nothing is revoked.
    const nested = `conv_nested_${kind.slice(0, 2)}_${tag}`;
    const group = `conv_group_${kind.slice(0, 2)}_${tag}`;
    await pgRoot.query(`CREATE ROLE ${group} NOLOGIN; GRANT app_admin TO ${group};
      CREATE ROLE ${nested} LOGIN; GRANT app_admin TO ${nested}; GRANT ${group} TO ${nested}`);
    try {
      await expect(
        provider.removeStanding?.(
          { principal: nested, privilege: 'member of app_admin' },
          AbortSignal.timeout(5_000),
        ),
      ).rejects.toThrow(/through another role/);
      const { rows } = await pgRoot.query(
        `SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
          WHERE g.rolname = 'app_admin' AND r.rolname = $1`,
        [nested],
      );
      expect(rows).toHaveLength(1);
    } finally {
      await pgRoot.query(`DROP ROLE ${nested}; DROP ROLE ${group}`);
    }

    const mdbResource = h.stint.deps.policy.current().resources.get('conv-mdb');
    if (!mdbResource) throw new Error('no conv-mdb');
    const mdbProvider = h.stint.deps.providers.get(mdbResource);
    const mdbNested = `convn_${kind.slice(0, 2)}_${tag}`;
    const mdbGroup = `convg_${kind.slice(0, 2)}_${tag}`;
    await mdbRoot.query(`CREATE ROLE ${mdbGroup}`);
    await mdbRoot.query(`GRANT app_admin TO ${mdbGroup}`);
    await mdbRoot.query("CREATE USER ?@'%' IDENTIFIED BY ?", [mdbNested, pw]);
    await mdbRoot.query("GRANT app_admin TO ?@'%'", [mdbNested]);
    await mdbRoot.query(`GRANT ${mdbGroup} TO ?@'%'`, [mdbNested]);
    await mdbRoot.query("GRANT SELECT ON *.* TO ?@'%'", [mdbNested]);
    try {
      await expect(
        mdbProvider.removeStanding?.(
          { principal: `'${mdbNested}'@'%'`, privilege: 'role app_admin' },
          AbortSignal.timeout(5_000),
        ),
      ).rejects.toThrow(/through another role/);
      await expect(
        mdbProvider.removeStanding?.(
          { principal: `'${mdbNested}'@'%'`, privilege: 'SELECT ON *.*' },
          AbortSignal.timeout(5_000),
        ),
      ).rejects.toMatchObject({ code: 'PROVIDER_ERROR', details: { class: 'refused' } });
      const [grants] = await mdbRoot.query<mysql.RowDataPacket[]>(
        "SELECT Role FROM mysql.roles_mapping WHERE User = ? AND Host = '%'",
        [mdbNested],
      );
      expect(grants.map((g) => g.Role).sort()).toEqual(['app_admin', mdbGroup].sort());
    } finally {
      await mdbRoot.query("DROP USER ?@'%'", [mdbNested]);
      await mdbRoot.query(`DROP ROLE ${mdbGroup}`);
    }
  });

  it("reports the quarter's progress: planned, done, left and what standing privilege remains", async () => {
    const res = await h.as('erin').get(`/v1/conversion/report?quarter=${QUARTER}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ quarter: QUARTER, planned: 4, done: 2, abandoned: 1, left: 1 });
    expect(res.body.remaining).toEqual([
      expect.objectContaining({
        resource: 'conv-pg',
        principal: pgOther,
        privilege: 'member of app_admin',
        state: 'planned',
      }),
    ]);
    const other = await h.as('erin').get('/v1/conversion/report?quarter=2027-Q1');
    expect(other.body).toMatchObject({ planned: 0, left: 0, remaining: [] });
    expect((await h.as('erin').get('/v1/conversion/report?quarter=Q4')).status).toBe(400);
  });

  it('stint conversion prints the quarter and plans through the server', async () => {
    const url = await h.app.listen({ port: 0, host: '127.0.0.1' });
    const env = { STINT_URL: url, STINT_TOKEN: h.tokens.erin as string };
    const report = await run(['conversion', 'report', '--quarter', QUARTER], { env });
    expect(report.code).toBe(0);
    expect(report.stdout).toMatch(/left:\s+1/);
    expect(report.stdout).toContain(pgOther);
    const json = await run(['--json', 'conversion', 'report', '--quarter', QUARTER], { env });
    expect(JSON.parse(json.stdout)).toMatchObject({ planned: 4, done: 2, left: 1 });
    expect((await run(['conversion', 'report', '--quarter', 'Q4'], { env })).code).toBe(2);
    // An auditor reads but does not plan; the server says so and the CLI fails.
    const refused = await run(
      [
        'conversion',
        'plan',
        '--resource',
        'conv-pg',
        '--principal',
        pgOther,
        '--privilege',
        'member of app_admin',
        '--role',
        'admin',
        '--quarter',
        QUARTER,
      ],
      { env },
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/FORBIDDEN|may not convert/);
    const inv = await run(['conversion', 'inventory'], { env });
    expect(inv.code).toBe(0);
    expect(inv.stdout).toContain(pgOther);
    expect(inv.stdout).toMatch(/just in time: admin \[app_admin\]; unasked \[app_admin\] \(no rule\)/);
  });
});
