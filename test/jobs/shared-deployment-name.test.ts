import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isStintError } from '../../src/domain/errors.js';
import { VANISHED_REASON } from '../../src/domain/state-machine.js';
import { commentFor } from '../../src/providers/postgres/principal-name.js';
import { readStoreId } from '../../src/store/store-identity.js';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness } from '../support/harness.js';
import { connect, loginError, waitFor } from '../support/pg-client.js';
import { TEST_POLICY } from '../support/test-policy.js';

const SHARED_POLICY = TEST_POLICY.replace(
  'settings: { deployment: stint-test,',
  'settings: { deployment: stint-test, allowSharedDeploymentName: true,',
);

/**
 * Two Stint deployments with separate stores under one deployment name, on one target (the scram cluster): the
 * collision two default installs (`deployment: stint`) used to be, where each reconciler took the other's live
 * roles for its own orphans and removed them, silently.
 */
describe('two stores under one deployment name', () => {
  const name = `shared-${randomBytes(4).toString('hex')}`;
  let first: Harness;
  let second: Harness | undefined;
  let root: pg.Client;
  const logs: { level: string; obj: object; msg: string | undefined }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => logs.push({ level, obj, msg });
  beforeAll(async () => {
    first = await createHarness('postgresql', {
      deployment: name,
      logger: { info: at('info'), warn: at('warn'), error: at('error') },
    });
    root = new pg.Client({
      connectionString: inject('pgCluster').superuserUrl.replace(/\/postgres$/, '/app'),
    });
    await root.connect();
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
    await root?.end();
  });

  const activeRead = async (h: Harness, user: string) => {
    const { id, credential } = await activeGrant(h, {
      resource: 'staging-db',
      role: 'read',
      reason: 'shared name test',
      requester: user,
      take: true,
    });
    return { id, url: credential.secret.url as string, principal: credential.principal as string };
  };

  it('a second store refuses to start on a target holding the first one’s roles under its name', async () => {
    await activeRead(first, 'alice');
    const refused = await createHarness('sqlite', { deployment: name, start: false });
    try {
      const err = await refused.stint.start().then(
        () => null,
        (e: unknown) => e,
      );
      expect(isStintError(err) && err.code).toBe('CONFIG_INVALID');
      expect((err as Error).message).toMatch(/^resource prod-db: .*another Stint store/);
      expect((err as Error).message).toContain(await readStoreId(first.testStore.store.db));
      expect((err as Error).message).toContain('settings.allowSharedDeploymentName');
    } finally {
      await refused.close();
    }
  });

  it('allowed to share the name, neither store revokes the other’s live grants', async () => {
    const mine = await activeRead(first, 'bob');
    second = await createHarness('sqlite', { deployment: name, policy: SHARED_POLICY });
    const theirs = await activeRead(second, 'alice');

    const [firstReports, secondReports] = [
      await first.stint.grants.reconcile(),
      await second.stint.grants.reconcile(),
    ];
    for (const r of [...firstReports, ...secondReports]) {
      expect(r.removed).not.toContain(mine.principal);
      expect(r.removed).not.toContain(theirs.principal);
      expect(r.vanished).toEqual([]);
    }
    expect(firstReports.find((r) => r.resource === 'staging-db')?.foreign).toBeGreaterThan(0);
    // The first server was not told the name is shared: it says so, once per other store and resource.
    const shared = logs.filter((l) => l.level === 'error' && l.msg?.includes('uses this deployment name'));
    expect(shared.length).toBeGreaterThan(0);
    await first.stint.grants.reconcile();
    expect(
      logs.filter((l) => l.level === 'error' && l.msg?.includes('uses this deployment name')),
    ).toHaveLength(shared.length);

    expect(await loginError(mine.url)).toBeNull();
    expect(await loginError(theirs.url)).toBeNull();
    expect((await first.as('bob').get(`/v1/requests/${mine.id}`)).body.state).toBe('active');
    expect((await second.as('alice').get(`/v1/requests/${theirs.id}`)).body.state).toBe('active');
  });

  it('a live role dropped by hand is found: the request ends, marked, audited and shown', async () => {
    const victim = await activeRead(first, 'alice');
    const session = await connect(victim.url);
    await session.end();
    await root.query(`DROP ROLE ${pg.escapeIdentifier(victim.principal)}`);

    const reports = await first.stint.grants.reconcile();
    expect(reports.find((r) => r.resource === 'staging-db')?.vanished).toContain(victim.id);

    const seen = await waitFor(async () => {
      const r = await first.as('alice').get(`/v1/requests/${victim.id}`);
      return r.body.revocation === 'done' ? r : null;
    });
    expect(seen.body.state).toBe('revoked');
    expect(seen.body.endedBy).toBe('stint');
    expect(seen.body.endReason).toBe(VANISHED_REASON);
    expect(seen.body.credentialVanishedAt).toEqual(expect.any(String));

    const events = await first.as('erin').get(`/v1/audit/events?request=${victim.id}`);
    const vanished = events.body.events.find((e: { action: string }) => e.action === 'grant.vanished');
    expect(logs).toContainEqual({
      level: 'error',
      obj: { resource: 'staging-db', requestId: victim.id, principal: victim.principal },
      msg: expect.stringContaining('removed from the target outside Stint'),
    });
    expect(vanished).toMatchObject({
      actor: 'stint',
      details: { resource: 'staging-db', principal: victim.principal },
    });

    // Nobody else's grant was touched by the finding.
    const again = await first.stint.grants.reconcile();
    expect(again.flatMap((r) => r.vanished)).toEqual([]);
  });

  it('a role tagged in the old format is this store’s only if this store knows its request', async () => {
    const ours = await activeRead(first, 'bob');
    // As a server before store ids tagged it.
    await root.query(
      `COMMENT ON ROLE ${pg.escapeIdentifier(ours.principal)} IS ${pg.escapeLiteral(`stint:request=${ours.id};deployment=${name}`)}`,
    );
    const stranger = `req_${randomBytes(8).toString('hex')}`;
    const strangerRole = `stint_${stranger}`;
    await root.query(
      `CREATE ROLE ${pg.escapeIdentifier(strangerRole)} NOLOGIN; COMMENT ON ROLE ${pg.escapeIdentifier(strangerRole)} IS ${pg.escapeLiteral(`stint:request=${stranger};deployment=${name}`)}`,
    );
    try {
      const live = await first.stint.grants.reconcile();
      expect(live.flatMap((r) => r.removed)).toEqual([]);
      expect(live.flatMap((r) => r.vanished)).toEqual([]);
      expect(await loginError(ours.url)).toBeNull();

      // Ended here: the revoke removes the legacy-tagged role like any other; the stranger's stays.
      await first.as('bob').post(`/v1/requests/${ours.id}/revoke`, { comment: 'done' });
      await waitFor(async () => (await loginError(ours.url)) !== null);
      const rows = await root.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [strangerRole]);
      expect(rows.rowCount).toBe(1);
    } finally {
      await root.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(strangerRole)}`);
    }
  });

  it('writes the store id into every tag', async () => {
    const r = await activeRead(first, 'alice');
    const { rows } = await root.query<{ c: string }>(
      "SELECT shobj_description(oid, 'pg_authid') AS c FROM pg_roles WHERE rolname = $1",
      [r.principal],
    );
    const storeId = await readStoreId(first.testStore.store.db);
    expect(rows[0]?.c).toBe(commentFor(r.id, { deployment: name, storeId }));
    await first.as('alice').post(`/v1/requests/${r.id}/revoke`, { comment: 'done' });
  });
});
