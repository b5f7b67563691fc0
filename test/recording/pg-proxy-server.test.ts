import { spawn } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateNoteKey } from '../../src/audit/log/signed-note.js';
import { createTokenStore } from '../../src/auth/token-store.js';
import { migrate, openDatabase } from '../../src/store/database.js';
import { waitFor } from '../support/pg-client.js';
import { type ServerProcess, startServerProcess } from '../support/server-process.js';
import { freePort, libpq, pgPolicy } from './pg-fixture.js';

/**
 * A real `stint server` process with STINT_PG_PROXY_LISTEN: it makes its TLS pair on first start (clients pin the
 * certificate and verify the proxy's name), keeps it across restarts, and when killed with SIGKILL mid-session
 * leaves a statement log that the next start finalises with every statement it had flushed, sealed into the trail.
 */
const cluster = inject('pgCluster');
let work: string;
let server: ServerProcess | null = null;
const tokens: Record<string, string> = {};
let env: Record<string, string>;
let args: string[];
let proxyPort: number;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'stint-pgsrv-'));
  mkdirSync(join(work, 'data'), { mode: 0o700 });
  proxyPort = await freePort();
  const policyPath = join(work, 'stint.yaml');
  writeFileSync(policyPath, pgPolicy(proxyPort));
  const dbUrl = `sqlite:${join(work, 'stint.db')}`;
  const store = openDatabase(dbUrl);
  await migrate(store);
  const tokenStore = createTokenStore(store.db);
  for (const user of ['alice', 'erin'])
    tokens[user] = (await tokenStore.create(user, 'test', new Date())).token;
  await store.close();
  env = {
    STINT_PG_ADMIN: cluster.stintAdminUrl,
    STINT_PG_COUNTED: cluster.stintAdminUrl,
    STINT_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    STINT_AUDIT_SIGNING_KEY: generateNoteKey('stint-test').skey,
    STINT_PG_PROXY_LISTEN: `127.0.0.1:${proxyPort}`,
    STINT_LOG_LEVEL: 'warn',
  };
  args = ['--policy', policyPath, '--db', dbUrl, '--data-dir', join(work, 'data'), '--port', '0'];
});
afterAll(async () => {
  await server?.kill9();
  rmSync(work, { recursive: true, force: true });
});

async function start(): Promise<{ url: string; fingerprint: string }> {
  server = await startServerProcess(args, env);
  const line = await waitFor(async () =>
    /PostgreSQL proxy listening on 127\.0\.0\.1:(\d+) \(TLS certificate SHA-256 ([0-9A-F:]+)\)/.exec(
      server?.output() ?? '',
    ),
  );
  expect(Number(line[1])).toBe(proxyPort);
  return { url: server.url, fingerprint: line[2] as string };
}

async function api(url: string, user: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${tokens[user]}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) };
}

describe('the server’s PostgreSQL proxy', () => {
  it('makes its certificate, is verified by pinning it, and a crash leaves a sealed statement log', async () => {
    const first = await start();
    const certFile = join(work, 'data', 'pg-proxy-cert.pem');
    expect(statSync(join(work, 'data', 'pg-proxy-key.pem')).mode & 0o777).toBe(0o600);
    expect(new X509Certificate(readFileSync(certFile)).fingerprint256).toBe(first.fingerprint);

    const asked = await api(first.url, 'alice', 'POST', '/v1/requests', {
      resource: 'appdb',
      role: 'rw',
      reason: 'crash test',
    });
    expect(asked.status).toBe(201);
    const id = asked.json().id as string;
    await waitFor(
      async () => (await api(first.url, 'alice', 'GET', `/v1/requests/${id}`)).json().state === 'active',
    );
    const taken = (await api(first.url, 'alice', 'POST', `/v1/requests/${id}/credentials`)).json();
    const conn = {
      host: '127.0.0.1',
      port: proxyPort,
      user: taken.secret.username,
      password: taken.secret.password,
      database: 'app',
    };
    // The certificate pinned and the name checked: what a careful user does with the printed fingerprint.
    const verified = await libpq('psql', ['-Atc', 'SELECT current_user'], {
      ...conn,
      sslmode: 'verify-full',
      sslrootcert: certFile,
    });
    expect(verified.stdout.trim(), verified.stderr).toBe(taken.principal);

    const child = spawn('psql', ['-X', '-c', "SELECT 'before the crash'", '-c', 'SELECT pg_sleep(60)'], {
      env: {
        PATH: process.env.PATH ?? '',
        PGHOST: conn.host,
        PGPORT: String(conn.port),
        PGUSER: conn.user,
        PGPASSWORD: conn.password,
        PGDATABASE: conn.database,
        PGSSLMODE: 'require',
      },
      stdio: 'ignore',
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const folder = join(work, 'data', 'recordings');
    // Past a flush (every 100 ms) of the first statement's line.
    await waitFor(async () =>
      readdirSync(folder)
        .filter((d) => d.startsWith('rec_'))
        .some((d) =>
          readdirSync(join(folder, d)).some((f) =>
            readFileSync(join(folder, d, f), 'utf8').includes('before the crash'),
          ),
        ),
    );
    await server?.kill9();
    await exited;

    const second = await start();
    expect(second.fingerprint).toBe(first.fingerprint);
    const sessions = (await api(second.url, 'erin', 'GET', `/v1/recorded-sessions?request=${id}`)).json()
      .sessions as { id: string; endReason: string; protocol: string }[];
    const crashed = sessions.find((s) => s.endReason === 'proxy stopped (recording recovered)');
    expect(crashed?.protocol).toBe('postgres');
    const detail = (await api(second.url, 'erin', 'GET', `/v1/recorded-sessions/${crashed?.id}`)).json();
    const [recording] = detail.recordings;
    expect(recording).toMatchObject({ state: 'recovered', type: 'pg-query-log' });
    expect(recording.segments[0]).toMatchObject({ state: 'sealed', recovered: true });
    // Served, checked against the trail: the statement answered before the crash is in it.
    const log = await api(second.url, 'erin', 'GET', `/v1/recordings/${recording.id}/cast`);
    expect(log.status).toBe(200);
    const entries = log.text
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => JSON.parse(l));
    expect(entries.map((e: { statement: string }) => e.statement)).toEqual(["SELECT 'before the crash'"]);
    // The role (and the backend the crash left sleeping) off the shared cluster.
    expect((await api(second.url, 'alice', 'POST', `/v1/requests/${id}/revoke`, {})).status).toBe(200);
  });
});
