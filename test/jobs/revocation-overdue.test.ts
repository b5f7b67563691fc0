import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStint } from '../../src/app/stint.js';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { expire } from '../../src/domain/state-machine.js';
import { type Logger, silentLogger } from '../../src/logger.js';
import { createProvider } from '../../src/providers/registry.js';
import { openDatabase } from '../../src/store/database.js';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness } from '../support/harness.js';
import { connect, sessionEnded, waitFor } from '../support/pg-client.js';
import { connectAs, type PgCluster, startPgCluster } from '../support/pg-cluster.js';
import { STORE_KINDS } from '../support/stores.js';

interface Event {
  seq: number;
  action: string;
  body: { result: string };
  details: Record<string, unknown>;
}

/**
 * Issue 20: a revocation that cannot succeed until someone repairs the target (Stint's admin password rotated,
 * its rights taken away) was retried forever in silence while sessions lived on past their window. Here, on a
 * private cluster whose admin role this file breaks and repairs: the first failure after the window closed is
 * alerted once with its class, /readyz names it as degraded, retries go on, and the repair clears the alert.
 */
describe.each(STORE_KINDS)('revocations that fail until the target is repaired, on %s', (kind) => {
  let cluster: PgCluster;
  let root: pg.Client;
  let h: Harness;
  const lines: { level: string; obj: object; msg: string | undefined }[] = [];
  const logger: Logger = {
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };

  beforeAll(async () => {
    cluster = await startPgCluster();
    root = await connectAs(cluster.superuserUrl);
    h = await createHarness(kind, { env: { STINT_TEST_DB_URL: cluster.stintAdminUrl }, logger });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await root?.end();
    await cluster?.stop();
  });

  const events = async (id: string): Promise<Event[]> =>
    (await h.as('erin').get(`/v1/audit/events?request=${id}`)).body.events;
  const grantRow = (id: string) =>
    h.testStore.store.db
      .selectFrom('grants')
      .selectAll()
      .where('request_id', '=', id)
      .executeTakeFirstOrThrow();
  /** Ends the admin's open connections, so the break applies to the next statement, not to a later reconnect. */
  const dropAdminSessions = () =>
    root.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'stint_admin'");

  /** A live 1 s grant with a session open on the target, as a user would hold it. */
  async function liveGrant() {
    const { id, credential } = await activeGrant(h, {
      resource: 'staging-db',
      role: 'read',
      reason: 'overdue revocation test',
      duration: '1s',
      take: true,
    });
    const session = await connect(credential.secret.url);
    await session.query('SET ROLE app_read');
    return { id, session, ended: sessionEnded(session) };
  }

  /** Breaks the target, lets the grant's window close, and checks the alert, the readiness and the retries. */
  async function overdue(id: string, expectedClass: string, secret?: string) {
    const alerted = await waitFor(async () => {
      const all = await events(id);
      return all.some((e) => e.action === 'grant.revocation_overdue') ? all : null;
    }, 20_000);
    const alert = alerted.find((e) => e.action === 'grant.revocation_overdue');
    expect(alert?.details).toMatchObject({ resource: 'staging-db', class: expectedClass, alert: true });
    if (secret) expect(JSON.stringify(alerted)).not.toContain(secret);
    // The first failure raised it; the grant's request had ended (expired) before.
    expect(alerted.map((e) => e.action)).toContain('grant.expired');
    // Raised with the first failed attempt, in its transaction: the very next event of the trail.
    const first = alerted.find((e) => e.action === 'grant.revocation_failed' && e.details.attempts === 1);
    expect(alert?.seq).toBe((first?.seq ?? -2) + 1);
    expect(alert?.body.result).toBe('failure');

    const ready = await h.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({
      status: 'degraded',
      degraded: [{ check: 'revocations', count: 1, requests: [id] }],
    });

    // Still retried (backoff), and not alerted again.
    await waitFor(async () => (await grantRow(id)).revoke_attempts >= 2, 20_000);
    const later = await events(id);
    expect(later.filter((e) => e.action === 'grant.revocation_overdue')).toHaveLength(1);
    expect((await grantRow(id)).revocation).toBe('pending');
    const failures = h.stint.deps.providers.metrics().find((m) => m.method === 'revoke');
    expect(failures?.failuresByClass[expectedClass as 'auth']).toBeGreaterThanOrEqual(1);
  }

  /** After the repair: revoked on the target, the session ended, the alert cleared, readiness back to ready. */
  async function repaired(id: string, ended: Promise<number>) {
    // Instead of waiting out the backoff: the next attempt is due now.
    await h.testStore.store.db
      .updateTable('grants')
      .set({ next_revoke_at: Date.now() })
      .where('request_id', '=', id)
      .execute();
    await waitFor(async () => (await grantRow(id)).revocation === 'done', 20_000);
    await ended;
    const all = await events(id);
    expect(all.filter((e) => e.action === 'grant.revocation_overdue_cleared')).toHaveLength(1);
    expect(all.findIndex((e) => e.action === 'grant.revocation_overdue_cleared')).toBeGreaterThan(
      all.findIndex((e) => e.action === 'grant.revocation_overdue'),
    );
    const ready = await h.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready' });
  }

  it("the admin's password rotated (28P01): alerted once as auth, degraded, retried, cleared on repair", async () => {
    const before = h.stint.grants.metrics();
    const { id, session, ended } = await liveGrant();
    const rotated = 'rotated-by-someone-else-0123456789';
    const original = new URL(cluster.stintAdminUrl).password;
    await root.query(`ALTER ROLE stint_admin PASSWORD '${rotated}'`);
    await dropAdminSessions();
    try {
      await overdue(id, 'auth', rotated);
      // The session the grant gave is still there: what the alert is about.
      await session.query('SELECT 1');
      expect(lines.some((l) => l.level === 'error' && l.msg?.startsWith('revocation overdue'))).toBe(true);
      expect(h.stint.grants.metrics().revocationsAlerted).toBe(before.revocationsAlerted + 1);
    } finally {
      await root.query(`ALTER ROLE stint_admin PASSWORD '${decodeURIComponent(original)}'`);
    }
    await repaired(id, ended);
    expect(h.stint.grants.metrics().revocationsCleared).toBe(before.revocationsCleared + 1);
  }, 60_000);

  it("the admin's rights taken away (42501): alerted once as privilege, retried, cleared on repair", async () => {
    const { id, ended } = await liveGrant();
    await root.query('ALTER ROLE stint_admin NOCREATEROLE');
    await dropAdminSessions();
    try {
      await overdue(id, 'privilege');
    } finally {
      await root.query('ALTER ROLE stint_admin CREATEROLE');
    }
    await repaired(id, ended);
  }, 60_000);

  // Last in this file: it stops this server's jobs.
  it.skipIf(kind !== 'postgresql')(
    'two servers on one store failing the same revocation at once raise one alert and clear it once',
    async () => {
      const { id, ended } = await liveGrant();
      // Only the calls below act on this grant: no timer, no sweep of the first server.
      await h.stint.stopSweeps();
      h.stint.grants.scheduler.cancel(id);
      const second = openDatabase(h.testStore.url);
      const other = createStint({
        store: second,
        storeId: h.storeId,
        policy: h.stint.deps.policy,
        providerFactory: (r, owner, ctx) => createProvider(r, h.env, { owner, metrics: ctx.metrics }),
        secrets: createSecretBox(randomBytes(32)),
        logger: silentLogger,
        audit: { signers: [h.auditSigner], checkpointDir: h.checkpointDir, checkpointIntervalMs: 200 },
      });
      try {
        await waitFor(
          async () =>
            (await h.as('alice').get(`/v1/requests/${id}`)).body.expiresAt < new Date().toISOString(),
        );
        // The window has closed: access ends in Stint (as the expirer records it), the target still to clean.
        const now = new Date();
        await h.stint.deps.run(
          id,
          now,
          (r) => expire(r, now),
          (trx) => h.stint.deps.grants.markRevocationPending(trx, id, now),
        );
        await root.query('ALTER ROLE stint_admin NOCREATEROLE');
        await dropAdminSessions();
        const servers = [h.stint, other, h.stint, other];
        try {
          await Promise.all(servers.map((s) => s.grants.revoker.revokeOnTarget(id)));
          await Promise.all(servers.map((s) => s.grants.revoker.revokeOnTarget(id)));
        } finally {
          await root.query('ALTER ROLE stint_admin CREATEROLE');
        }
        await Promise.all(servers.map((s) => s.grants.revoker.revokeOnTarget(id)));
        await ended;
        const all = await events(id);
        expect(all.filter((e) => e.action === 'grant.revocation_overdue')).toHaveLength(1);
        expect(all.filter((e) => e.action === 'grant.revocation_overdue_cleared')).toHaveLength(1);
        expect(all.filter((e) => e.action === 'grant.revocation_completed')).toHaveLength(1);
        expect((await grantRow(id)).revocation).toBe('done');
      } finally {
        await other.stop();
        await second.close();
      }
    },
    60_000,
  );
});
