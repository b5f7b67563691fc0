import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateNoteKey } from '../../src/audit/log/signed-note.js';
import { createTokenStore } from '../../src/auth/token-store.js';
import { parseAsciicast } from '../../src/recording/asciicast.js';
import { migrate, openDatabase } from '../../src/store/database.js';
import { waitFor } from '../support/pg-client.js';
import { type ServerProcess, startServerProcess } from '../support/server-process.js';
import { type Sshd, startSshd, userKey } from '../support/sshd.js';
import { policyFor, spawnSsh } from './fixture.js';

/**
 * A real `stint server` process with its SSH proxy (STINT_SSH_PROXY_LISTEN), killed with SIGKILL in the middle of
 * a recorded session: at its next start the segments it left open are finalised with every whole line it had
 * flushed, sealed into the audit trail (`recovered`), and the recording plays through the API, checked against
 * the trail.
 */
let sshd: Sshd;
let work: string;
let server: ServerProcess | null = null;
const tokens: Record<string, string> = {};
let env: Record<string, string>;
let args: string[];

beforeAll(async () => {
  sshd = await startSshd({ principals: ['ops'] });
  work = join(sshd.dir, 'stint');
  mkdirSync(work, { mode: 0o700 });
  const policyPath = join(work, 'stint.yaml');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(policyPath, policyFor(sshd, {}));
  const dbUrl = `sqlite:${join(work, 'stint.db')}`;
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
  };
  args = ['--policy', policyPath, '--db', dbUrl, '--data-dir', work, '--port', '0'];
});
afterAll(async () => {
  await server?.kill9();
  await sshd?.stop();
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

describe('a proxy killed mid-session', () => {
  it('leaves a recording finalised at the next start, verifiable against the audit trail', async () => {
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
    expect(taken.status).toBe(200);
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
    // Past a flush (every 100 ms): what was shown is on disk.
    await new Promise((r) => setTimeout(r, 400));
    await server?.kill9();
    await ssh.exited;

    const folder = join(work, 'recordings');
    const [recordingId] = readdirSync(folder).filter((n) => n.startsWith('rec_'));
    expect(readdirSync(join(folder, recordingId as string))).toEqual(['000000.cast.part']);

    const second = await start();
    expect(readdirSync(join(folder, recordingId as string))).toEqual(['000000.cast']);
    const sessions = (await api(second.url, 'erin', 'GET', `/v1/recorded-sessions?request=${id}`)).json()
      .sessions;
    expect(sessions).toHaveLength(1);
    expect(sessions[0].endReason).toBe('proxy stopped (recording recovered)');
    const detail = (await api(second.url, 'erin', 'GET', `/v1/recorded-sessions/${sessions[0].id}`)).json();
    const [recording] = detail.recordings;
    expect(recording).toMatchObject({ id: recordingId, state: 'recovered' });
    const bytes = readFileSync(join(folder, recordingId as string, '000000.cast'));
    expect(recording.segments).toEqual([
      {
        index: 0,
        state: 'sealed',
        sha256: createHash('sha256').update(bytes).digest('hex'),
        bytes: bytes.length,
        recovered: true,
      },
    ]);
    const events = (await api(second.url, 'erin', 'GET', `/v1/audit/events?request=${id}`)).json().events as {
      action: string;
      details: Record<string, unknown>;
    }[];
    const sealed = events.find((e) => e.action === 'recording.segment');
    expect(sealed?.details).toMatchObject({
      recordingId,
      segment: 0,
      recovered: true,
      sha256: recording.segments[0].sha256,
    });

    // The API serves it, each segment checked against the trail; it plays: header and every line shown.
    const cast = await api(second.url, 'erin', 'GET', `/v1/recordings/${recordingId}/cast`);
    expect(cast.status).toBe(200);
    const parsed = parseAsciicast(cast.text);
    const output = parsed.events.map((e) => e[2]).join('');
    expect(output).toContain('line-40');
    expect(output).toContain('flushed');
  });
});
