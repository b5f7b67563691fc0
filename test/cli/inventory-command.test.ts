import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NO_CANCEL } from '../../src/providers/provider.js';
import { createProvider } from '../../src/providers/registry.js';
import { connectAs, pgUrl } from '../support/pg-cluster.js';
import { run } from './support.js';

/**
 * `stint inventory` against the run's real scram cluster as the documented stint_admin, and a Vault resource whose
 * kind has no inventory (nothing reaches Vault: its declaration says why, and that is what is printed).
 */
const cluster = inject('pgCluster');
const POLICY = `
version: 1
settings: { deployment: cli-inventory, hardCap: 4h, pendingTimeout: 24h }
users:
  - { id: alice, email: alice@example.com, name: Alice, teams: [payments] }
resources:
  - id: prod-db
    kind: postgres
    description: Production database
    sensitivity: critical
    connection: { env: STINT_CLI_INV_DB_URL }
    roles:
      admin: { description: Full access, grants: [app_admin] }
  - id: secrets
    kind: vault
    description: Dynamic secrets
    sensitivity: critical
    connection: { env: STINT_CLI_INV_VAULT_TOKEN }
    options: { address: 'https://vault.invalid:8200' }
    roles:
      read: { description: Read, grants: [database/creds/readonly] }
rules: []
`;

const tag = randomBytes(4).toString('hex');
const dba = `inv_dba_${tag}`;
const team = `inv_team_${tag}`;
const dbaPassword = randomBytes(18).toString('base64url');
const dir = mkdtempSync(join(tmpdir(), 'stint-cli-inventory-'));
const policyFile = join(dir, 'policy.yaml');
let root: pg.Client;
const stint = createProvider(
  { id: 'prod-db', kind: 'postgres', connection: { env: 'U' }, options: {} },
  { U: cluster.stintAdminUrl },
  { owner: { deployment: 'cli-inventory', storeId: `st_${randomBytes(8).toString('hex')}` } },
);
let issued: { principal: string; password: string };

beforeAll(async () => {
  writeFileSync(policyFile, POLICY);
  root = await connectAs(pgUrl(cluster, 'postgres', new URL(cluster.superuserUrl).password, 'app'));
  await root.query(`CREATE ROLE ${dba} LOGIN SUPERUSER PASSWORD ${pg.escapeLiteral(dbaPassword)}`);
  await root.query(`CREATE ROLE ${team} LOGIN; GRANT app_admin TO ${team}`);
  const cred = await stint.issue(
    {
      requestId: `inv-${tag}`,
      requester: 'alice',
      role: 'admin',
      grants: ['app_admin'],
      expiresAt: new Date(Date.now() + 3_600_000),
    },
    NO_CANCEL,
  );
  issued = { principal: cred.principal, password: cred.secret.password as string };
});

afterAll(async () => {
  await stint.revoke({ principal: issued.principal }, NO_CANCEL).catch(() => {});
  await stint.close();
  await root?.query(`DROP ROLE IF EXISTS ${dba}; DROP ROLE IF EXISTS ${team}`);
  await root?.end();
  rmSync(dir, { recursive: true, force: true });
});

const env = { STINT_CLI_INV_DB_URL: cluster.stintAdminUrl };

describe('stint inventory', () => {
  it('prints a table of standing privilege per resource, and why a kind has none', async () => {
    const r = await run(['inventory', '--policy', policyFile], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`prod-db .* postgres .* ${dba} .* SUPERUSER`));
    expect(r.stdout).toMatch(new RegExp(`${team} .* member of app_admin .* holds app_admin all the time`));
    expect(r.stdout).toMatch(/- secrets \(vault\): no inventory: who holds which policy/);
    expect(r.stdout).not.toContain(issued.principal);
  });

  it('--json answers every resource with its principals, never a secret or what Stint issued', async () => {
    const r = await run(['inventory', '--json', '--policy', policyFile], { env });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.ok).toBe(true);
    const [db, vault] = out.resources;
    expect(db).toMatchObject({ resource: 'prod-db', kind: 'postgres', inventory: 'standing', ok: true });
    expect(db.principals).toContainEqual(
      expect.objectContaining({ principal: dba, privileges: ['SUPERUSER'] }),
    );
    expect(vault).toMatchObject({ resource: 'secrets', kind: 'vault', inventory: 'none', ok: true });
    expect(vault.why).toMatch(/sudo/);
    for (const secret of [
      dbaPassword,
      issued.password,
      issued.principal,
      new URL(cluster.stintAdminUrl).password,
    ])
      expect(r.stdout).not.toContain(secret);
  });

  it('a target that refuses the admin credential is a clear PROVIDER_ERROR (auth), without the password', async () => {
    const wrong = new URL(cluster.stintAdminUrl);
    wrong.password = 'not-the-admin-password';
    const r = await run(['inventory', '--json', '--policy', policyFile], {
      env: { STINT_CLI_INV_DB_URL: wrong.toString() },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/PROVIDER_ERROR/);
    const out = JSON.parse(r.stdout);
    expect(out.ok).toBe(false);
    expect(out.resources[0]).toMatchObject({
      resource: 'prod-db',
      ok: false,
      code: 'PROVIDER_ERROR',
      class: 'auth',
    });
    expect(r.stdout + r.stderr).not.toContain('not-the-admin-password');
  });

  it('needs --policy (or STINT_POLICY), and a policy that loads', async () => {
    const none = await run(['inventory']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--policy');
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, POLICY.replace('kind: postgres', 'kind: nosuchkind'));
    const bad = await run(['inventory', '--policy', broken], { env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/broken\.yaml:\d+:\d+/);
  });
});
