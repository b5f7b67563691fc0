import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateNoteKey } from '../../src/audit/log/signed-note.js';
import { createTokenStore } from '../../src/auth/token-store.js';
import { migrate, openDatabase } from '../../src/store/database.js';
import { waitFor } from '../support/pg-client.js';
import { type ServerProcess, startServerProcess } from '../support/server-process.js';
import { type Sshd, startSshd } from '../support/sshd.js';

/**
 * `stint ssh` routed through the recording proxy, end to end as a user runs it: a real server process with
 * STINT_SSH_PROXY_LISTEN set (the proxy inside it), a real sshd, the CLI as its own process. The take's answer
 * names the proxy and its host key; `stint ssh` logs in through it, so the session is recorded.
 */
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

let sshd: Sshd;
let server: ServerProcess;
let work: string;
let keys: string;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  sshd = await startSshd({ principals: ['ops'] });
  work = join(sshd.dir, 'stint');
  mkdirSync(work, { mode: 0o700 });
  keys = join(work, 'user-keys');
  mkdirSync(keys, { mode: 0o700 });
  const dbUrl = `sqlite:${join(work, 'stint.db')}`;
  const policyPath = join(work, 'stint.yaml');
  writeFileSync(
    policyPath,
    `version: 1
settings: { deployment: ssh-proxy-cli-${randomBytes(3).toString('hex')} }
users:
  - { id: alice, email: alice@example.com, teams: [crew] }
  - { id: sam, email: sam@example.com, teams: [security], security: true }
resources:
  - id: bastion
    kind: ssh
    sensitivity: routine
    connection: { env: STINT_SSH_CA }
    options:
      host: 127.0.0.1
      port: ${sshd.port}
      user: ${sshd.account}
      principals: [ops]
      hostCaPublicKey: "${sshd.hostCaPublicKey}"
      stateDir: ${sshd.stateDir}
      krlPath: ${sshd.krlPath}
    roles:
      ops: { grants: [ops] }
rules:
  - id: crew
    resources: [bastion]
    roles: ['*']
    who: { teams: [crew] }
    duration: { min: 1m, default: 10m, max: 1h }
    approval: [auto]
`,
  );
  const store = openDatabase(dbUrl);
  await migrate(store);
  const tokenStore = createTokenStore(store.db);
  for (const user of ['alice', 'sam'])
    tokens[user] = (await tokenStore.create(user, 'test', new Date())).token;
  await store.close();
  server = await startServerProcess([], {
    STINT_POLICY: policyPath,
    STINT_DATABASE_URL: dbUrl,
    STINT_DATA_DIR: work,
    STINT_PORT: '0',
    STINT_SSH_CA: sshd.userCaKey,
    STINT_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    STINT_AUDIT_SIGNING_KEY: generateNoteKey('stint-test').skey,
    // One host named: the take tells users this address (no STINT_SSH_PROXY_ADDRESS needed).
    STINT_SSH_PROXY_LISTEN: '127.0.0.1:0',
  });
});

afterAll(async () => {
  await server?.kill9();
  await sshd?.stop();
});

async function api(user: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${tokens[user]}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return (await res.json()) as Record<string, unknown> & { id: string; state: string };
}

async function activeRequest(): Promise<string> {
  const asked = await api('alice', 'POST', '/v1/requests', {
    resource: 'bastion',
    role: 'ops',
    reason: 'cli',
  });
  await waitFor(async () => (await api('alice', 'GET', `/v1/requests/${asked.id}`)).state === 'active');
  return asked.id;
}

function stint(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const { SSH_AUTH_SOCK: _agent, ...env } = process.env;
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--url', server.url, ...args], {
      env: { ...env, STINT_TOKEN: tokens.alice, STINT_SSH_DIR: keys },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The recorded sessions of a request, as security reads them. */
async function recorded(requestId: string): Promise<{ id: string; account: string }[]> {
  const r = await api('sam', 'GET', `/v1/recorded-sessions?request=${requestId}`);
  return (r.sessions ?? []) as { id: string; account: string }[];
}

describe('stint ssh through the recording proxy', () => {
  it('goes through the proxy the server names, pinned by the host key its answer carried; --direct does not', async () => {
    const proxyLine = /SSH proxy listening on 127\.0\.0\.1:(\d+) \(host key (ssh-ed25519 \S+)\)/.exec(
      server.output(),
    );
    expect(proxyLine).not.toBeNull();
    const id = await activeRequest();
    const first = await stint(['ssh', 'bastion', '--', 'id', '-un']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toBe(sshd.account);

    const dir = join(keys, id);
    const kept = JSON.parse(readFileSync(join(dir, 'target.json'), 'utf8')) as Record<string, string>;
    expect(kept.proxyAddress).toBe(`127.0.0.1:${proxyLine?.[1]}`);
    expect(kept.proxyHostKey).toBe(proxyLine?.[2]);
    expect(readFileSync(join(dir, 'proxy_known_hosts'), 'utf8').trim()).toBe(
      `[127.0.0.1]:${proxyLine?.[1]} ${proxyLine?.[2]}`,
    );
    // The proxy token, shown once with the take, kept beside the key for this user only.
    expect(readFileSync(join(dir, 'proxy-token'), 'utf8').trim()).toMatch(/^stint-ssh\.req_/);
    expect(statSync(join(dir, 'proxy-token')).mode & 0o777).toBe(0o600);
    expect(server.output()).not.toContain(readFileSync(join(dir, 'proxy-token'), 'utf8').trim());

    // Recorded: the session went through the proxy.
    const sessions = await waitFor(async () => {
      const s = await recorded(id);
      return s.length === 1 ? s : null;
    });
    expect(sessions[0]?.account).toBe(sshd.account);

    // --direct: to the host itself, with the same certificate; no session through the proxy.
    const direct = await stint(['ssh', id, '--direct', '--', 'echo', 'direct']);
    expect(direct.code).toBe(0);
    expect(direct.stdout.trim()).toBe('direct');
    // --proxy naming the same proxy explicitly: through it again.
    const named = await stint(['ssh', id, '--proxy', `127.0.0.1:${proxyLine?.[1]}`, '--', 'echo', 'named']);
    expect(named.code).toBe(0);
    expect(named.stdout.trim()).toBe('named');
    const after = await waitFor(async () => {
      const s = await recorded(id);
      return s.length >= 2 ? s : null;
    });
    expect(after).toHaveLength(2);
  });

  it('refuses a malformed --proxy before anything is taken', async () => {
    const id = await activeRequest();
    const bad = await stint(['ssh', id, '--proxy', 'no-port', '--', 'true']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--proxy must be host:port/);
    expect((await api('alice', 'GET', `/v1/requests/${id}`)).credentialShown).toBe(false);
    const both = await stint(['ssh', id, '--proxy', '127.0.0.1:1', '--direct']);
    expect(both.stderr).toMatch(/--proxy and --direct cannot both be given/);
  });
});
