import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateNoteKey } from '../../src/audit/log/signed-note.js';
import { createTokenStore } from '../../src/auth/token-store.js';
import { migrate, openDatabase } from '../../src/store/database.js';
import { activeGrant, type GrantApi } from '../support/active-grant.js';
import { targetEnv } from '../support/harness.js';
import { connect, sessionEnded, waitFor } from '../support/pg-client.js';
import { connectAs, type PgCluster, startPgCluster } from '../support/pg-cluster.js';
import { type ServerProcess, startServerProcess } from '../support/server-process.js';
import { TEST_POLICY } from '../support/test-policy.js';

interface Answer {
  status: number;
  ms: number;
  // biome-ignore lint/suspicious/noExplicitAny: API answers are read field by field
  body: any;
}

/**
 * Stint's own store on a private cluster of its own, which this file stops, restarts, hangs (SIGSTOP) and whose
 * connections it kills, under a real `stint server` process: the server must stay up, say it is not ready,
 * refuse state changes with STORE_UNAVAILABLE within bounded time, and catch up on expiry once the store is back.
 */
describe('store outages (restart, terminated connections, hung store)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-store-outage-'));
  const policyPath = join(dir, 'stint.yaml');
  const deployment = `outage-${randomBytes(4).toString('hex')}`;
  const tokens: Record<string, string> = {};
  let store: PgCluster;
  let storeUrl: string;
  let server: ServerProcess | undefined;
  let halted = false;
  const sessions: pg.Client[] = [];

  // One deployment's keys across its restarts: the audit trail's leaves carry MACs made with the signing key.
  const encryptionKey = randomBytes(32).toString('base64');
  const signingKey = generateNoteKey('stint-outage').skey;
  const env = (extra: Record<string, string> = {}) => ({
    ...targetEnv(),
    STINT_ENCRYPTION_KEY: encryptionKey,
    STINT_AUDIT_SIGNING_KEY: signingKey,
    STINT_LOG_LEVEL: 'warn',
    STINT_SWEEP_INTERVAL_MS: '200',
    ...extra,
  });
  const start = (extra: Record<string, string> = {}) =>
    startServerProcess(
      ['--policy', policyPath, '--db', storeUrl, '--port', '0', '--data-dir', dir],
      env(extra),
    );

  async function call(user: string, method: string, path: string, body?: unknown): Promise<Answer> {
    const began = Date.now();
    const res = await fetch(`${server?.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${tokens[user]}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
      // Far beyond every bound under test: a hang shows up as a failed bound, not as a stuck test.
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    return { status: res.status, ms: Date.now() - began, body: text ? JSON.parse(text) : null };
  }

  const api: GrantApi = {
    as: (user) => ({
      get: (path) => call(user, 'GET', path),
      post: (path, body) => call(user, 'POST', path, body),
    }),
  };

  const alive = () => server?.child.exitCode === null && server.child.signalCode === null;

  /** A live grant with a session open on the target, ending `seconds` from now. */
  async function liveGrant(seconds: number) {
    const { id, request, credential } = await activeGrant(api, {
      resource: 'staging-db',
      role: 'read',
      reason: 'store outage test',
      duration: `${seconds}s`,
      take: true,
    });
    const session = await connect(credential.secret.url);
    sessions.push(session);
    await session.query('SET ROLE app_read');
    return { id, expiresAt: Date.parse(request.expiresAt), ended: sessionEnded(session) };
  }

  beforeAll(async () => {
    store = await startPgCluster();
    const root = await connectAs(store.superuserUrl);
    await root.query('CREATE DATABASE stint');
    await root.end();
    const url = new URL(store.superuserUrl);
    url.pathname = '/stint';
    storeUrl = url.toString();
    writeFileSync(policyPath, TEST_POLICY.replace('deployment: stint-test', `deployment: ${deployment}`));
    const db = openDatabase(storeUrl);
    await migrate(db);
    const tokenStore = createTokenStore(db.db);
    for (const user of ['alice', 'carol'])
      tokens[user] = (await tokenStore.create(user, 'test', new Date())).token;
    await db.close();
  });

  afterEach(async () => {
    // A stopped or hung store must never outlive its test: every later test (and teardown) needs it answering.
    if (halted) {
      await store.resume();
      halted = false;
    } else {
      for (const pid of store.pids()) process.kill(pid, 'SIGCONT');
    }
    await server?.kill9();
    server = undefined;
    for (const s of sessions.splice(0)) await s.end().catch(() => {});
  });

  afterAll(async () => {
    await store?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('survives a store restart under load: not ready, 503 STORE_UNAVAILABLE, expiry caught up within 1 s', async () => {
    server = await start();
    const grant = await liveGrant(6);

    // Load throughout: reads and readiness probes, none of which may answer a 500.
    const seen: Answer[] = [];
    let loading = true;
    const load = (async () => {
      while (loading) {
        for (const path of ['/v1/requests', '/readyz']) {
          // A dead server (or a hung answer) counts as an answer of 0: it must not happen either.
          seen.push(await call('alice', 'GET', path).catch(() => ({ status: 0, ms: 0, body: null })));
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    await store.halt('fast');
    halted = true;
    expect(grant.expiresAt, 'the grant must end during the outage').toBeGreaterThan(Date.now());
    const ready = await waitFor(async () => {
      const r = await call('alice', 'GET', '/readyz');
      return r.status === 503 ? r : null;
    });
    expect(ready.body.status).toBe('not ready');
    const create = await call('alice', 'POST', '/v1/requests', {
      resource: 'staging-db',
      role: 'read',
      reason: 'during the outage',
    });
    expect(create.status).toBe(503);
    expect(create.body.error.code).toBe('STORE_UNAVAILABLE');
    const revoke = await call('alice', 'POST', `/v1/requests/${grant.id}/revoke`, {});
    expect(revoke.status).toBe(503);
    expect(revoke.body.error.code).toBe('STORE_UNAVAILABLE');
    const list = await call('alice', 'GET', '/v1/requests');
    expect(list.body.error.code).toBe('STORE_UNAVAILABLE');

    // The grant's window ends while the store is down: nothing can record its end yet.
    await new Promise((r) => setTimeout(r, Math.max(0, grant.expiresAt - Date.now()) + 300));
    expect(alive(), server.output()).toBe(true);

    await store.resume();
    halted = false;
    const back = Date.now();
    const endedAt = await grant.ended;
    expect(endedAt - back).toBeLessThanOrEqual(1000);

    loading = false;
    await load;
    expect(alive(), server.output()).toBe(true);
    expect(seen.filter((a) => a.status !== 200 && a.status !== 503)).toEqual([]);
    expect(seen.some((a) => a.status === 503)).toBe(true);
    const after = await waitFor(async () => {
      const r = await call('alice', 'GET', `/v1/requests/${grant.id}`);
      return r.body.revocation === 'done' ? r : null;
    });
    expect(after.body.state).toBe('expired');
    expect((await call('alice', 'GET', '/readyz')).status).toBe(200);
  }, 60_000);

  it("survives pg_terminate_backend of every one of the pool's connections", async () => {
    server = await start();
    // Several requests at once, so the pool holds several idle connections to kill.
    await Promise.all(Array.from({ length: 6 }, () => call('alice', 'GET', '/v1/requests')));
    const root = await connectAs(store.superuserUrl);
    try {
      const { rows } = await root.query<{ n: number }>(
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
         WHERE datname = 'stint' AND pid <> pg_backend_pid()`,
      );
      expect(rows[0]?.n).toBeGreaterThan(0);
    } finally {
      await root.end();
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(alive(), server.output()).toBe(true);
    const list = await waitFor(async () => {
      const r = await call('alice', 'GET', '/v1/requests');
      return r.status === 200 ? r : null;
    });
    expect(Array.isArray(list.body.requests)).toBe(true);
    expect((await call('alice', 'GET', '/readyz')).status).toBe(200);
  }, 60_000);

  it('a hung store (SIGSTOP) answers within bounds: readyz < 1 s, list and create 503, expiry after SIGCONT', async () => {
    const connectMs = 1000;
    const statementMs = 2000;
    server = await start({
      STINT_STORE_CONNECT_TIMEOUT_MS: String(connectMs),
      STINT_STORE_STATEMENT_TIMEOUT_MS: String(statementMs),
    });
    const grant = await liveGrant(8);
    // Warm the pool so the hang is met both by connections already open and by new ones.
    await Promise.all(Array.from({ length: 4 }, () => call('alice', 'GET', '/v1/requests')));

    for (const pid of store.pids()) process.kill(pid, 'SIGSTOP');
    expect(grant.expiresAt, 'the grant must end during the hang').toBeGreaterThan(Date.now());
    const [ready, list, create] = await Promise.all([
      call('alice', 'GET', '/readyz'),
      call('alice', 'GET', '/v1/requests'),
      call('alice', 'POST', '/v1/requests', {
        resource: 'staging-db',
        role: 'read',
        reason: 'during the hang',
      }),
    ]);
    expect(ready.status).toBe(503);
    expect(ready.ms).toBeLessThan(1000);
    // Whatever a call meets (a connection already open, a new one, a queue for the pool), it is bounded.
    const bound = connectMs + statementMs + 1500;
    expect(list.status).toBe(503);
    expect(list.body.error.code).toBe('STORE_UNAVAILABLE');
    expect(list.ms).toBeLessThan(bound);
    expect(create.status).toBe(503);
    expect(create.body.error.code).toBe('STORE_UNAVAILABLE');
    expect(create.ms).toBeLessThan(bound);
    // Once the hang is known, answers are immediate.
    const again = await call('alice', 'GET', '/readyz');
    expect(again.status).toBe(503);
    expect(again.ms).toBeLessThan(1000);

    await new Promise((r) => setTimeout(r, Math.max(0, grant.expiresAt - Date.now()) + 300));
    for (const pid of store.pids()) process.kill(pid, 'SIGCONT');
    const back = Date.now();
    const endedAt = await grant.ended;
    expect(endedAt - back).toBeLessThanOrEqual(1000);
    expect(alive(), server.output()).toBe(true);
    const ok = await waitFor(async () => {
      const r = await call('alice', 'GET', '/readyz');
      return r.status === 200 ? r : null;
    });
    expect(ok.ms).toBeLessThan(1000);
    const after = await waitFor(async () => {
      const r = await call('alice', 'GET', `/v1/requests/${grant.id}`);
      return r.body.revocation === 'done' ? r : null;
    });
    expect(after.body.state).toBe('expired');
  }, 60_000);
});
