import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { resultOf } from '../../src/audit/audit-event.js';
import type { Logger } from '../../src/logger.js';
import { NO_CANCEL } from '../../src/providers/provider.js';
import { createProvider } from '../../src/providers/registry.js';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness } from '../support/harness.js';
import { waitFor } from '../support/pg-client.js';
import { connectAs, pgUrl } from '../support/pg-cluster.js';
import { STORE_KINDS } from '../support/stores.js';
import { TEST_POLICY } from '../support/test-policy.js';

/** A revocation that can never succeed ends in a visible terminal state instead of being retried forever. */
describe.each(STORE_KINDS)('a revocation that cannot succeed on %s', (kind) => {
  const cluster = inject('pgCluster');
  const database = `stint_gone_${randomBytes(4).toString('hex')}`;
  const errors: { obj: object; msg: string | undefined }[] = [];
  const logger: Logger = { info() {}, warn() {}, error: (obj, msg) => errors.push({ obj, msg }) };
  let root: pg.Client;
  let h: Harness;

  beforeAll(async () => {
    root = await connectAs(pgUrl(cluster, 'postgres', new URL(cluster.superuserUrl).password, 'postgres'));
    await root.query(`CREATE DATABASE ${database}`);
    const url = new URL(cluster.stintAdminUrl);
    url.pathname = `/${database}`;
    h = await createHarness(kind, {
      env: { STINT_GONE_DB_URL: url.toString() },
      policy: TEST_POLICY.replace(
        /(- id: staging-db[\s\S]*?connection: )\{ env: STINT_TEST_DB_URL \}/,
        '$1{ env: STINT_GONE_DB_URL }',
      ),
      logger,
    });
  });
  afterAll(async () => {
    await h?.close();
    await root?.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await root?.end();
  });

  it('the target database was dropped: abandoned, alerted, shown, and no longer retried', async () => {
    const { id } = await activeGrant(h, {
      resource: 'staging-db',
      role: 'read',
      reason: 'debug',
      duration: '30m',
    });
    const { principal } = await h.testStore.store.db
      .selectFrom('grants')
      .select('principal')
      .where('request_id', '=', id)
      .executeTakeFirstOrThrow();

    await root.query(`DROP DATABASE ${database} WITH (FORCE)`);
    await h.as('alice').post(`/v1/requests/${id}/revoke`, { comment: 'done' });

    const view = await waitFor(async () => {
      const r = await h.as('alice').get(`/v1/requests/${id}`);
      return r.body.revocation === 'abandoned' ? r : null;
    });
    expect(view.body.state).toBe('revoked');
    expect(view.body.revocationError).toMatch(/does not exist/);

    const events = (await h.as('erin').get(`/v1/audit/events?request=${id}`)).body.events as {
      action: string;
      details: Record<string, unknown>;
    }[];
    const abandoned = events.find((e) => e.action === 'grant.revocation_abandoned');
    expect(resultOf('grant.revocation_abandoned')).toBe('failure');
    expect(abandoned).toMatchObject({
      details: { resource: 'staging-db', principal, attempts: 1, alert: true },
    });
    expect(events.map((e) => e.action)).not.toContain('grant.revocation_failed');
    expect(errors.find((l) => l.msg?.startsWith('revocation abandoned'))?.obj).toMatchObject({
      requestId: id,
      principal,
    });

    // The sweeper (every 200 ms here) leaves it alone: no further attempt, no further event.
    await new Promise((r) => setTimeout(r, 1_000));
    const grant = await h.testStore.store.db
      .selectFrom('grants')
      .select(['revocation', 'revoke_attempts', 'next_revoke_at'])
      .where('request_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(grant).toEqual({ revocation: 'abandoned', revoke_attempts: 1, next_revoke_at: null });
    const after = (await h.as('erin').get(`/v1/audit/events?request=${id}`)).body.events;
    expect(after).toHaveLength(events.length);

    // Roles are cluster-wide: the login outlived its database, which is what the alert asks a person to remove.
    const { rows } = await root.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [principal]);
    expect(rows).toHaveLength(1);
    const resource = h.stint.deps.policy.current().resources.get('prod-db');
    if (!resource) throw new Error('policy lacks prod-db');
    const cleaner = createProvider(resource, h.env, {
      owner: { deployment: h.deployment, storeId: h.storeId },
    });
    try {
      await cleaner.revoke({ principal }, NO_CANCEL);
    } finally {
      await cleaner.close();
    }
  });
});
