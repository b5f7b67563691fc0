import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateNoteKey } from '../../src/audit/log/signed-note.js';
import { createTokenStore } from '../../src/auth/token-store.js';
import { principalFor } from '../../src/providers/postgres/principal-name.js';
import { migrate, openDatabase } from '../../src/store/database.js';
import { targetEnv } from '../support/harness.js';
import { connect, loginError, sessionEnded, waitFor } from '../support/pg-client.js';
import { type ServerProcess, startServerProcess } from '../support/server-process.js';
import { TEST_POLICY } from '../support/test-policy.js';

/**
 * `kill -9` of a real server process while it issues credentials and while grants are live, then a restart:
 * no role may be left on the target without a live grant, and no request may stay stuck half-way.
 */
describe('crash recovery (kill -9 and restart)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-crash-'));
  const dbUrl = `sqlite:${join(dir, 'stint.db')}`;
  const policyPath = join(dir, 'stint.yaml');
  const deployment = `crash-${randomBytes(4).toString('hex')}`;
  const env = {
    ...targetEnv(),
    STINT_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    STINT_AUDIT_SIGNING_KEY: generateNoteKey('stint-test').skey,
    STINT_LOG_LEVEL: 'warn',
    STINT_SWEEP_INTERVAL_MS: '200',
  };
  const args = ['--policy', policyPath, '--db', dbUrl, '--port', '0', '--data-dir', dir];
  const tokens: Record<string, string> = {};
  let server: ServerProcess | undefined;
  let target: pg.Client;

  const call = async (user: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server?.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${tokens[user]}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown> & { id: string; state: string },
    };
  };

  /** Reads the store file directly, as an operator would after a crash. */
  async function storeState() {
    const store = openDatabase(dbUrl);
    try {
      const requests = await store.db.selectFrom('requests').select(['id', 'state']).execute();
      const grants = await store.db
        .selectFrom('grants')
        .select(['request_id', 'principal', 'revocation'])
        .execute();
      return { requests, grants };
    } finally {
      await store.close();
    }
  }

  async function rolesOnTarget(requestIds: string[]): Promise<string[]> {
    const names = requestIds.map(principalFor);
    const { rows } = await target.query<{ rolname: string }>(
      'SELECT rolname FROM pg_roles WHERE rolname = ANY($1)',
      [names],
    );
    return rows.map((r) => r.rolname).sort();
  }

  beforeAll(async () => {
    writeFileSync(policyPath, TEST_POLICY.replace('deployment: stint-test', `deployment: ${deployment}`));
    const store = openDatabase(dbUrl);
    await migrate(store);
    const tokenStore = createTokenStore(store.db);
    for (const user of ['alice', 'bob'])
      tokens[user] = (await tokenStore.create(user, 'test', new Date())).token;
    await store.close();
    target = new pg.Client({ connectionString: inject('pgCluster').superuserUrl });
    await target.connect();
  });

  afterAll(async () => {
    await server?.kill9();
    await target?.end();
    rmSync(dir, { recursive: true, force: true });
  });

  it('killed during issuance: after restart nothing is stuck and no role is orphaned', async () => {
    let caughtMidIssuance = false;
    for (let attempt = 0; attempt < 8 && !caughtMidIssuance; attempt++) {
      server = await startServerProcess(args, env);
      // A burst of auto-approved requests: each one is issued on the target as it is created.
      const burst = Array.from({ length: 12 }, () =>
        call('alice', 'POST', '/v1/requests', {
          resource: 'staging-db',
          role: 'read',
          reason: 'crash test',
        }).catch(() => null),
      );
      await new Promise((r) => setTimeout(r, 15 + attempt * 10));
      await server.kill9();
      await Promise.all(burst);
      const { requests, grants } = await storeState();
      const live = new Set(grants.filter((g) => g.revocation === 'none').map((g) => g.principal));
      const onTarget = await rolesOnTarget(requests.map((r) => r.id));
      // Mid-issuance: an approved request not yet active, or a role on the target not yet recorded as a grant.
      caughtMidIssuance =
        requests.some((r) => r.state === 'approved') || onTarget.some((role) => !live.has(role));
    }
    expect(caughtMidIssuance, 'no kill landed during an issuance in 8 tries').toBe(true);

    server = await startServerProcess(args, env);
    const settled = await waitFor(async () => {
      const s = await storeState();
      return s.requests.every((r) => r.state !== 'approved') ? s : null;
    });
    const live = settled.grants.filter((g) => g.revocation === 'none').map((g) => g.principal);
    expect(await rolesOnTarget(settled.requests.map((r) => r.id))).toEqual([...live].sort());
    for (const r of settled.requests) expect(['active', 'failed']).toContain(r.state);
    await server.kill9();
    // Up to nine server starts, as the contract suite's crash tests allow (contract-crash.ts).
  }, 120_000);

  it('killed while a grant is live: on restart after its expiry the session is ended and the role removed', async () => {
    server = await startServerProcess(args, env);
    const answered = await call('alice', 'POST', '/v1/requests', {
      resource: 'staging-db',
      role: 'read',
      reason: 'crash test',
      duration: '2s',
    });
    // Auto-approved: issuance runs just after the answer, from the committed request.
    const created = await waitFor(async () => {
      const r = await call('alice', 'GET', `/v1/requests/${answered.body.id}`);
      return r.body.state === 'approved' ? null : r;
    });
    expect(created.body.state).toBe('active');
    const id = created.body.id;
    const cred = await call('alice', 'POST', `/v1/requests/${id}/credentials`);
    const url = (cred.body.secret as { url: string }).url;
    const session = await connect(url);
    await server.kill9();

    // Nobody is running Stint now; PostgreSQL itself refuses new logins after VALID UNTIL.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await loginError(url)).not.toBeNull();

    const ended = sessionEnded(session);
    server = await startServerProcess(args, env);
    await ended;
    const after = await waitFor(async () => {
      const r = await call('alice', 'GET', `/v1/requests/${id}`);
      return r.body.revocation === 'done' ? r : null;
    });
    expect(after.body.state).toBe('expired');
    expect(await rolesOnTarget([id])).toEqual([]);
    await server.kill9();
  });
});
