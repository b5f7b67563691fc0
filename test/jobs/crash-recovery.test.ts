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
import { activeGrant, type GrantApi } from '../support/active-grant.js';
import { targetEnv } from '../support/harness.js';
import { connect, loginError, sessionEnded, waitFor } from '../support/pg-client.js';
import { type ServerProcess, startServerProcess } from '../support/server-process.js';
import { TEST_POLICY } from '../support/test-policy.js';

/**
 * `kill -9` of a real `stint server` process while a grant is live, then a restart after its window: the target
 * enforces the window meanwhile, and the restart ends the session and removes the role. A kill during issuance
 * and during revocation is the contract suite's (contract-crash.ts, run for PostgreSQL by postgres-contract).
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

  const api: GrantApi = {
    as: (user) => ({
      get: (path) => call(user, 'GET', path),
      post: (path, body) => call(user, 'POST', path, body),
    }),
  };

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

  it('killed while a grant is live: on restart after its expiry the session is ended and the role removed', async () => {
    server = await startServerProcess(args, env);
    const { id, credential } = await activeGrant(api, {
      resource: 'staging-db',
      role: 'read',
      reason: 'crash test',
      duration: '2s',
      take: true,
    });
    const url: string = credential.secret.url;
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
