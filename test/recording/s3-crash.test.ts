import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateNoteKey } from '../../src/audit/log/signed-note.js';
import { createTokenStore } from '../../src/auth/token-store.js';
import { parseAsciicast } from '../../src/recording/asciicast.js';
import { STALE_AFTER_MS } from '../../src/recording/storage/store-storage.js';
import { migrate, openDatabase } from '../../src/store/database.js';
import { waitFor } from '../support/pg-client.js';
import { type ServerProcess, startServerProcess } from '../support/server-process.js';
import { type Sshd, startSshd, userKey } from '../support/sshd.js';
import { policyFor, spawnSsh } from './fixture.js';
import { type S3Double, startS3Double } from './s3-double.js';

/**
 * A real `stint server` process recording into S3 (STINT_RECORDINGS=s3, the local double: no real S3 runs here),
 * killed with SIGKILL in the middle of a session. The flushes it wrote are in the bucket; once its heartbeat is
 * stale, the next server to start seals them (whole lines), into the audit trail, and plays the recording.
 */
let sshd: Sshd;
let s3: S3Double;
let work: string;
let dbUrl: string;
let server: ServerProcess | null = null;
const tokens: Record<string, string> = {};
let env: Record<string, string>;
let args: string[];

beforeAll(async () => {
  sshd = await startSshd({ principals: ['ops'] });
  s3 = await startS3Double({ buckets: ['crash-recordings'] });
  work = join(sshd.dir, 'stint');
  mkdirSync(work, { mode: 0o700 });
  const policyPath = join(work, 'stint.yaml');
  writeFileSync(policyPath, policyFor(sshd, {}));
  dbUrl = `sqlite:${join(work, 'stint.db')}`;
  const store = openDatabase(dbUrl);
  await migrate(store);
  const tokenStore = createTokenStore(store.db);
  for (const user of ['alice', 'erin'])
    tokens[user] = (await tokenStore.create(user, 'test', new Date())).token;
  await store.close();
  env = {
    STINT_SSH_CA: sshd.userCaKey,
    STINT_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    STINT_AUDIT_SIGNING_KEY: generateNoteKey('stint-test').skey,
    STINT_SSH_PROXY_LISTEN: '127.0.0.1:0',
    STINT_SSH_PROXY_POLL_MS: '100',
    STINT_LOG_LEVEL: 'warn',
    STINT_RECORDINGS: 's3',
    STINT_RECORDINGS_S3_BUCKET: 'crash-recordings',
    STINT_RECORDINGS_S3_ENDPOINT: s3.url,
    STINT_RECORDINGS_S3_REGION: s3.region,
    STINT_RECORDINGS_S3_FORCE_PATH_STYLE: 'true',
    // The SDK's default chain, as a deployment's would find them.
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
  };
  args = ['--policy', policyPath, '--db', dbUrl, '--data-dir', work, '--port', '0'];
});
afterAll(async () => {
  await server?.kill9();
  await sshd?.stop();
  await s3?.close();
  rmSync(work, { recursive: true, force: true });
});

async function start(): Promise<{ url: string; proxyPort: number; hostKey: string }> {
  server = await startServerProcess(args, env);
  const line = await waitFor(async () =>
    /SSH proxy listening on 127\.0\.0\.1:(\d+) \(host key ([^)]+)\)/.exec(server?.output() ?? ''),
  );
  return { url: server.url, proxyPort: Number(line[1]), hostKey: line[2] as string };
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

describe('a proxy recording into S3, killed mid-session', () => {
  it('leaves its flushes in the bucket, sealed by the next server once its heartbeat is stale', async () => {
    const first = await start();
    const asked = await api(first.url, 'alice', 'POST', '/v1/requests', {
      resource: 'bastion',
      role: 'ops',
      reason: 'crash test',
    });
    expect(asked.status).toBe(201);
    const id = asked.json().id as string;
    await waitFor(
      async () => (await api(first.url, 'alice', 'GET', `/v1/requests/${id}`)).json().state === 'active',
    );
    const key = await userKey(work);
    const taken = await api(first.url, 'alice', 'POST', `/v1/requests/${id}/credentials`, {
      publicKey: key.publicKey,
    });
    const ssh = spawnSsh(
      {
        keyPath: key.path,
        certificate: taken.json().secret.certificate,
        knownHosts: `[127.0.0.1]:${first.proxyPort} ${first.hostKey}`,
        user: sshd.account,
        port: first.proxyPort,
      },
      ['for i in $(seq 1 40); do echo line-$i; done; echo flushed; sleep 60'],
    );
    await waitFor(async () => ssh.output().includes('flushed'));
    await new Promise((r) => setTimeout(r, 400));
    await server?.kill9();
    const killedAt = Date.now();
    await ssh.exited;

    // What was shown is in the bucket as the flushes wrote it; nothing is sealed.
    const bucket = s3.buckets.get('crash-recordings') as Map<string, Buffer>;
    const open = [...bucket.keys()].filter((k) => k.includes('/open/'));
    expect(open.length).toBeGreaterThan(0);
    expect([...bucket.keys()].some((k) => k.includes('/sealed/'))).toBe(false);
    const written = open
      .sort()
      .map((k) => (bucket.get(k) as Buffer).toString())
      .join('');
    expect(written).toContain('flushed');

    // The dead proxy's heartbeat must be stale before any server takes its segments: wait that out, for real.
    await new Promise((r) => setTimeout(r, Math.max(0, killedAt + STALE_AFTER_MS + 1_000 - Date.now())));
    const second = await start();
    const [session] = (await api(second.url, 'erin', 'GET', `/v1/recorded-sessions?request=${id}`)).json()
      .sessions;
    const detail = await waitFor(async () => {
      const d = (await api(second.url, 'erin', 'GET', `/v1/recorded-sessions/${session.id}`)).json();
      return d.recordings[0]?.state === 'recovered' ? d : null;
    });
    const [recording] = detail.recordings;
    expect(recording.storage).toMatch(/^s3:crash-recordings\/stint\/stint-[A-Za-z0-9_-]+\/$/);
    const sealedKeys = [...bucket.keys()].filter((k) => k.includes(`/sealed/${recording.id}/`));
    expect(sealedKeys).toHaveLength(1);
    expect([...bucket.keys()].filter((k) => k.includes(`/open/${recording.id}/`))).toEqual([]);
    const kept = bucket.get(sealedKeys[0] as string) as Buffer;
    expect(kept.toString()).toBe(written);
    expect(recording.segments).toEqual([
      {
        index: 0,
        state: 'sealed',
        sha256: createHash('sha256').update(kept).digest('hex'),
        bytes: kept.length,
        recovered: true,
      },
    ]);
    const cast = await api(second.url, 'erin', 'GET', `/v1/recordings/${recording.id}/cast`);
    expect(cast.status).toBe(200);
    const output = parseAsciicast(cast.text)
      .events.map((e) => e[2])
      .join('');
    expect(output).toContain('line-40');
    expect(output).toContain('flushed');
  }, 120_000);
});
