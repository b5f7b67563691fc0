import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Resource } from '../../src/policy/policy-types.js';
import {
  type CredentialProvider,
  NO_CANCEL,
  type StandingPrincipal,
  type TargetOwner,
} from '../../src/providers/provider.js';
import { createProvider } from '../../src/providers/registry.js';
import { connectAs, pgUrl } from '../support/pg-cluster.js';

/**
 * The standing-access inventory on the run's scram cluster, read as the documented least-privileged stint_admin:
 * roles made by hand the way teams have them, beside credentials two Stint stores issued.
 */
const cluster = inject('pgCluster');
const tag = randomBytes(4).toString('hex');
const owner = (): TargetOwner => ({
  deployment: 'standing-test',
  storeId: `st_${randomBytes(8).toString('hex')}`,
});

const resource: Resource = {
  id: 'standing-db',
  kind: 'postgres',
  description: 'inventory target',
  sensitivity: 'critical',
  connection: { env: 'STINT_STANDING_PG_URL' },
  options: {},
  roles: { admin: { name: 'admin', description: '', grants: ['app_admin'] } },
};
const env = { STINT_STANDING_PG_URL: cluster.stintAdminUrl };

/** Roles this file makes by hand, each with the password it was given. */
const roles = {
  dba: `standing_dba_${tag}`,
  teamAdmin: `standing_team_${tag}`,
  reader: `standing_reader_${tag}`,
  writer: `standing_writer_${tag}`,
  owner: `standing_owner_${tag}`,
  viaGroup: `standing_viagroup_${tag}`,
  plain: `standing_plain_${tag}`,
};
const group = `standing_sugroup_${tag}`;
const nologin = `standing_nologin_${tag}`;
const passwords = Object.fromEntries(
  Object.values(roles).map((r) => [r, randomBytes(18).toString('base64url')]),
);

let root: pg.Client;
let mine: CredentialProvider;
let theirs: CredentialProvider;
const issued: { provider: CredentialProvider; principal: string; password: string }[] = [];

beforeAll(async () => {
  root = await connectAs(pgUrl(cluster, 'postgres', new URL(cluster.superuserUrl).password, 'app'));
  const pw = (r: string) => pg.escapeLiteral(passwords[r] as string);
  await root.query(`
    CREATE ROLE ${roles.dba} LOGIN SUPERUSER PASSWORD ${pw(roles.dba)};
    CREATE ROLE ${roles.teamAdmin} LOGIN PASSWORD ${pw(roles.teamAdmin)};
    GRANT app_admin TO ${roles.teamAdmin};
    CREATE ROLE ${roles.reader} LOGIN PASSWORD ${pw(roles.reader)};
    GRANT pg_read_all_data TO ${roles.reader};
    CREATE ROLE ${roles.writer} LOGIN PASSWORD ${pw(roles.writer)};
    GRANT INSERT, UPDATE ON public.accounts TO ${roles.writer};
    CREATE ROLE ${roles.owner} LOGIN PASSWORD ${pw(roles.owner)};
    CREATE TABLE public.standing_owned_${tag} (id int);
    ALTER TABLE public.standing_owned_${tag} OWNER TO ${roles.owner};
    CREATE ROLE ${group} NOLOGIN SUPERUSER;
    CREATE ROLE ${roles.viaGroup} LOGIN PASSWORD ${pw(roles.viaGroup)};
    GRANT ${group} TO ${roles.viaGroup};
    CREATE ROLE ${roles.plain} LOGIN PASSWORD ${pw(roles.plain)};
    GRANT SELECT ON public.accounts TO ${roles.plain};
    CREATE ROLE ${nologin} NOLOGIN CREATEROLE;
  `);
  mine = createProvider(resource, env, { owner: owner() });
  theirs = createProvider(resource, env, { owner: owner() });
  for (const provider of [mine, theirs]) {
    const cred = await provider.issue(
      {
        requestId: `standing-${randomBytes(5).toString('hex')}`,
        requester: 'alice',
        role: 'admin',
        grants: ['app_admin'],
        expiresAt: new Date(Date.now() + 3_600_000),
      },
      NO_CANCEL,
    );
    issued.push({ provider, principal: cred.principal, password: cred.secret.password as string });
  }
});

afterAll(async () => {
  for (const i of issued) await i.provider.revoke({ principal: i.principal }, NO_CANCEL).catch(() => {});
  await mine?.close();
  await theirs?.close();
  await root?.query(`DROP TABLE IF EXISTS public.standing_owned_${tag}`);
  await root?.query(`REVOKE ALL ON public.accounts FROM ${roles.writer}, ${roles.plain}`).catch(() => {});
  for (const r of [...Object.values(roles), group, nologin]) await root?.query(`DROP ROLE IF EXISTS ${r}`);
  await root?.end();
});

async function inventory(): Promise<StandingPrincipal[]> {
  const list = mine.listStanding;
  if (!list) throw new Error('the postgres provider has no listStanding');
  return (await list({ grants: ['app_admin', 'app_read'] }, NO_CANCEL)).principals;
}
const entry = (all: StandingPrincipal[], principal: string) => all.find((p) => p.principal === principal);

describe('postgres standing-access inventory', () => {
  it('lists each kind of standing privilege made by hand, with its privileges and why', async () => {
    const all = await inventory();
    expect(entry(all, roles.dba)?.privileges).toEqual(['SUPERUSER']);
    expect(entry(all, roles.dba)?.reason).toMatch(/superuser/);
    expect(entry(all, roles.teamAdmin)?.privileges).toEqual(['member of app_admin']);
    expect(entry(all, roles.teamAdmin)?.reason).toMatch(/holds app_admin all the time/);
    expect(entry(all, roles.reader)?.privileges).toEqual(['member of pg_read_all_data']);
    expect(entry(all, roles.writer)?.privileges).toEqual([
      'INSERT on 1 relation in app',
      'UPDATE on 1 relation in app',
    ]);
    expect(entry(all, roles.owner)?.privileges).toEqual(['owner of 1 relation in app']);
    expect(entry(all, roles.viaGroup)?.privileges).toEqual([`member of ${group} (SUPERUSER)`]);
    expect(entry(all, roles.viaGroup)?.reason).toMatch(/can SET ROLE to .*SUPERUSER/);
    // The cluster's own superuser is standing access too.
    expect(entry(all, 'postgres')?.privileges).toContain('SUPERUSER');
  });

  it('leaves out login roles with nothing that matters, and roles that cannot log in', async () => {
    const names = (await inventory()).map((p) => p.principal);
    expect(names).not.toContain(roles.plain);
    expect(names).not.toContain(nologin);
    expect(names).not.toContain(group);
  });

  it('never lists what Stint issued, this store’s or another’s, and no password or verifier appears', async () => {
    const all = await inventory();
    const text = JSON.stringify(all);
    for (const i of issued) {
      expect(text).not.toContain(i.principal);
      expect(text).not.toContain(i.password);
    }
    const { rows } = await root.query<{ v: string }>(
      'SELECT rolpassword AS v FROM pg_authid WHERE rolname = ANY($1::text[])',
      [Object.values(roles)],
    );
    expect(rows.length).toBe(Object.values(roles).length);
    for (const secret of [...Object.values(passwords), ...rows.map((r) => r.v)])
      expect(text).not.toContain(secret);
    expect(text).not.toMatch(/SCRAM-SHA-256\$/);
    expect(text).not.toContain(new URL(cluster.stintAdminUrl).password);
  });

  it('names Stint’s own admin role as what it is', async () => {
    const admin = entry(await inventory(), 'stint_admin');
    expect(admin?.privileges).toContain('CREATEROLE');
    expect(admin?.detail).toMatchObject({ stintAdmin: true });
    expect(admin?.reason).toMatch(/^Stint's own admin role/);
  });

  it('a Stint role someone made SUPERUSER by hand is listed: the mark does not hide privilege Stint never gives', async () => {
    const tampered = issued[1]?.principal as string;
    await root.query(`ALTER ROLE ${tampered} SUPERUSER`);
    try {
      expect(entry(await inventory(), tampered)?.privileges).toContain('SUPERUSER');
    } finally {
      await root.query(`ALTER ROLE ${tampered} NOSUPERUSER`);
    }
    expect(entry(await inventory(), tampered)).toBeUndefined();
  });
});
