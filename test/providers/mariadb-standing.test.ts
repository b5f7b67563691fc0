import { randomBytes } from 'node:crypto';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '../../src/policy/policy-types.js';
import {
  type CredentialProvider,
  failureClass,
  NO_CANCEL,
  type StandingPrincipal,
  type TargetOwner,
} from '../../src/providers/provider.js';
import { createProvider } from '../../src/providers/registry.js';
import { type MariaDbServer, startMariaDb } from '../support/mariadb-server.js';

/**
 * The standing-access inventory on this file's own mariadbd (set up by the docs' admin block, verbatim), read as
 * stint_admin: accounts made by hand the way teams have them, beside accounts two Stint stores issued.
 */
const owner = (): TargetOwner => ({
  deployment: 'standing-test',
  storeId: `st_${randomBytes(8).toString('hex')}`,
});
const resource: Resource = {
  id: 'standing-mdb',
  kind: 'mariadb',
  description: 'inventory target',
  sensitivity: 'critical',
  connection: { env: 'STINT_STANDING_MDB_URL' },
  options: {},
  roles: { admin: { name: 'admin', description: '', grants: ['app_admin'] } },
};

const accounts = {
  dba: 'standing_dba',
  superuser: 'standing_super',
  team: 'standing_team',
  nested: 'standing_nested',
  schema: 'standing_schema',
  tableOnly: 'standing_table',
  plain: 'standing_plain',
};
const passwords = Object.fromEntries(
  Object.values(accounts).map((a) => [a, randomBytes(18).toString('base64url')]),
);
const named = (user: string) => `'${user}'@'%'`;

let server: MariaDbServer;
let root: mysql.Connection;
let mine: CredentialProvider;
let theirs: CredentialProvider;
const issued: { provider: CredentialProvider; principal: string; password: string }[] = [];

beforeAll(async () => {
  server = await startMariaDb();
  root = await server.root();
  for (const [user, password] of Object.entries(passwords))
    await root.query("CREATE USER ?@'%' IDENTIFIED BY ?", [user, password]);
  await root.query(`
    GRANT ALL PRIVILEGES ON *.* TO 'standing_dba'@'%' WITH GRANT OPTION;
    GRANT SUPER ON *.* TO 'standing_super'@'%';
    GRANT app_admin TO 'standing_team'@'%';
    CREATE ROLE standing_ops;
    GRANT app_admin TO standing_ops;
    GRANT standing_ops TO 'standing_nested'@'%';
    GRANT SELECT, INSERT ON app.* TO 'standing_schema'@'%';
    GRANT SELECT ON app.accounts TO 'standing_table'@'%';
  `);
  const env = { STINT_STANDING_MDB_URL: server.stintAdminUrl };
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
  await root?.end();
  await server?.stop();
});

async function inventory(provider = mine): Promise<StandingPrincipal[]> {
  const list = provider.listStanding;
  if (!list) throw new Error('the mariadb provider has no listStanding');
  return (await list({ grants: ['app_admin', 'app_read'] }, NO_CANCEL)).principals;
}
const entry = (all: StandingPrincipal[], principal: string) => all.find((p) => p.principal === principal);

describe('mariadb standing-access inventory', () => {
  it('lists each kind of standing privilege made by hand, in SHOW GRANTS words, with why', async () => {
    const all = await inventory();
    expect(entry(all, named(accounts.dba))?.privileges).toEqual(['ALL PRIVILEGES ON *.*', 'GRANT OPTION']);
    expect(entry(all, named(accounts.dba))?.reason).toMatch(/administers the server/);
    expect(entry(all, named(accounts.superuser))?.privileges).toEqual(['SUPER ON *.*']);
    expect(entry(all, named(accounts.team))?.privileges).toEqual(['role app_admin']);
    expect(entry(all, named(accounts.team))?.reason).toMatch(/holds app_admin all the time/);
    // Through another role: the role that matters is named, the empty one in between is not.
    expect(entry(all, named(accounts.nested))?.privileges).toEqual(['role app_admin']);
    expect(entry(all, named(accounts.schema))?.privileges).toEqual(['SELECT, INSERT ON `app`.*']);
    expect(entry(all, "'root'@'localhost'")?.privileges).toContain('ALL PRIVILEGES ON *.*');
  });

  it('leaves out accounts with nothing that matters, and (documented) table-level grants, and roles', async () => {
    const names = (await inventory()).map((p) => p.principal);
    expect(names).not.toContain(named(accounts.plain));
    expect(names).not.toContain(named(accounts.tableOnly));
    expect(names.some((n) => n.startsWith("'app_admin'") || n.startsWith("'standing_ops'"))).toBe(false);
  });

  it('never lists what Stint issued, this store’s or another’s, and no password or hash appears', async () => {
    const text = JSON.stringify(await inventory());
    for (const i of issued) {
      expect(text).not.toContain(i.principal);
      expect(text).not.toContain(i.password);
    }
    const [rows] = await root.query<mysql.RowDataPacket[]>(
      "SELECT authentication_string AS h FROM mysql.user WHERE authentication_string <> ''",
    );
    expect(rows.length).toBeGreaterThan(Object.keys(passwords).length);
    for (const secret of [...Object.values(passwords), ...rows.map((r) => String(r.h))])
      expect(text).not.toContain(secret);
    expect(text).not.toMatch(/\*[0-9A-F]{40}/);
    expect(text).not.toContain(decodeURIComponent(new URL(server.stintAdminUrl).password));
  });

  it('names Stint’s own admin account as what it is, with what the docs grant it', async () => {
    const admin = entry(await inventory(), named('stint_admin'));
    expect(admin?.privileges).toEqual([
      'PROCESS, CREATE USER ON *.*',
      'EVENT ON `stint_meta`.*',
      'role app_admin WITH ADMIN OPTION',
      'role app_read WITH ADMIN OPTION',
    ]);
    expect(admin?.detail).toEqual({ stintAdmin: true });
    expect(admin?.reason).toMatch(/^Stint's own admin account/);
  });

  it('a Stint account someone gave SUPER by hand is listed: the mark does not hide what Stint never grants', async () => {
    const tampered = issued[1]?.principal as string;
    await root.query("GRANT SUPER ON *.* TO ?@'%'", [tampered]);
    try {
      expect(entry(await inventory(), named(tampered))?.privileges).toContain('SUPER ON *.*');
    } finally {
      await root.query("REVOKE SUPER ON *.* FROM ?@'%'", [tampered]);
    }
    expect(entry(await inventory(), named(tampered))).toBeUndefined();
  });

  it('without the inventory’s read grants it fails as a privilege error, naming no secret', async () => {
    await root.query("REVOKE SELECT ON mysql.roles_mapping FROM 'stint_admin'@'%'");
    try {
      const err = await inventory().catch((e: unknown) => e);
      expect(failureClass(err)).toBe('privilege');
      expect((err as Error).message).toMatch(/list standing privilege/);
    } finally {
      await root.query("GRANT SELECT ON mysql.roles_mapping TO 'stint_admin'@'%'");
    }
    expect(entry(await inventory(), named(accounts.team))).toBeDefined();
  });
});
