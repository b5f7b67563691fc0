import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateNoteKey } from '../../src/audit/log/signed-note.js';
import { createTokenStore } from '../../src/auth/token-store.js';
import { migrate, openDatabase } from '../../src/store/database.js';
import { waitFor } from '../support/pg-client.js';
import { type ServerProcess, startServerProcess } from '../support/server-process.js';
import { run, startSshd, userKey } from '../support/sshd.js';

/**
 * `stint ssh` end to end, as a user runs it: a real server process with an SSH resource, a real sshd, the CLI as
 * its own process. The key pair is made on the user's side; only the public half reaches the server.
 */
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const KIND_SERVER = fileURLToPath(new URL('../support/kind-server.ts', import.meta.url));

const sshd = await startSshd({ principals: ['ops'] });
const work = join(sshd.dir, 'stint');
mkdirSync(work, { mode: 0o700 });
const keys = join(work, 'user-keys');
mkdirSync(keys, { mode: 0o700 });
const dbUrl = `sqlite:${join(work, 'stint.db')}`;
const tokens: Record<string, string> = {};
let server: ServerProcess;

afterAll(async () => {
  await server?.kill9();
  await sshd.stop();
});

beforeAll(async () => {
  const policyPath = join(work, 'stint.yaml');
  writeFileSync(
    policyPath,
    `version: 1
settings: { deployment: ssh-cli-${randomBytes(3).toString('hex')} }
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
  server = await startServerProcess(
    [JSON.stringify({ policyPath, databaseUrl: dbUrl, dataDir: work })],
    {
      STINT_SSH_CA: sshd.userCaKey,
      STINT_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      STINT_AUDIT_SIGNING_KEY: generateNoteKey('stint-test').skey,
      STINT_LOG_LEVEL: 'info',
    },
    KIND_SERVER,
  );
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

/** `stint …` as its own process, as alice; ssh inherits its stdout and stderr, which the test reads. */
function stint(args: string[], user = 'alice'): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const { SSH_AUTH_SOCK: _agent, ...env } = process.env;
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--url', server.url, ...args], {
      env: { ...env, STINT_TOKEN: tokens[user], STINT_SSH_DIR: keys },
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

describe('stint ssh', () => {
  it('logs in with a certificate for a key made on the spot; only the public half reaches the server', async () => {
    const id = await activeRequest();
    // Given the resource, it finds alice's active request for it.
    const first = await stint(['ssh', 'bastion', '--', 'id', '-un']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toBe(sshd.account);

    const dir = join(keys, id);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'id_ed25519')).mode & 0o777).toBe(0o600);
    const privateKey = readFileSync(join(dir, 'id_ed25519'), 'utf8');
    const listed = await run('ssh-keygen', ['-L', '-f', join(dir, 'id_ed25519-cert.pub')]);
    expect(listed.stdout).toContain(`Key ID: "stint:request=${id};`);
    expect(readFileSync(join(dir, 'known_hosts'), 'utf8')).toMatch(
      /^@cert-authority \[127\.0\.0\.1\]:\d+ ssh-ed25519 /,
    );

    const view = await api('alice', 'GET', `/v1/requests/${id}`);
    expect(view.credentialShown).toBe(true);
    for (const line of privateKey.split('\n').filter((l) => l.length > 20 && !l.startsWith('-'))) {
      expect(server.output()).not.toContain(line);
    }
    // The server logged the take with the input's field name only.
    expect(server.output()).toMatch(/"inputFields":\["publicKey"\]/);

    // Within the window, again by request id: the kept certificate, no second take (it is shown once).
    const again = await stint(['ssh', id, '--', 'echo', 'again']);
    expect(again.stdout.trim()).toBe('again');
    // ssh's exit status is the command's.
    expect((await stint(['ssh', id, '--', 'exit 7'])).code).toBe(7);
  });

  it('after a revoke through Stint, the next login is refused: the server published the KRL', async () => {
    const id = await activeRequest();
    expect((await stint(['ssh', id, '--', 'true'])).code).toBe(0);
    const started = performance.now();
    await api('sam', 'POST', `/v1/requests/${id}/revoke`, { comment: 'done' });
    const refused = await waitFor(async () => {
      const r = await stint(['ssh', id, '--', 'true']);
      return r.code === 255 ? r : null;
    }, 20_000);
    console.info(
      `ssh via the server: revoke answered, login refused within ${(performance.now() - started).toFixed(0)} ms`,
    );
    expect(refused.stderr).toMatch(/Permission denied/);
    expect((await run('ssh-keygen', ['-Q', '-l', '-f', sshd.krlPath])).stdout).toContain(
      `stint:request=${id};`,
    );
  });

  it('refuses clearly when there is nothing to log in with', async () => {
    const none = await stint(['ssh', 'no-such-resource']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/error \[NOT_FOUND\]: you have no active request for no-such-resource/);

    // Taken elsewhere (stint credentials with another key): stint ssh cannot get a second certificate.
    const id = await activeRequest();
    const other = await userKey(work);
    const taken = await stint(['credentials', id, '--public-key', `${other.path}.pub`]);
    expect(taken.code).toBe(0);
    const r = await stint(['ssh', id, '--', 'true']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/CREDENTIAL_ALREADY_SHOWN.*taken already, not by stint ssh on this machine/);
  });

  it('refuses a key directory others can read', async () => {
    const open = join(work, 'open');
    mkdirSync(open, { mode: 0o755 });
    const { SSH_AUTH_SOCK: _agent, ...env } = process.env;
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', MAIN, '--url', server.url, 'ssh', 'bastion'],
        {
          env: { ...env, STINT_TOKEN: tokens.alice, STINT_SSH_DIR: open },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.once('exit', (code) => resolve({ code: code ?? -1, stderr }));
    });
    expect(r.stderr).toMatch(/must be a directory of yours that no one else can read/);
    expect(r.code).toBe(2);
    rmSync(open, { recursive: true });
  });
});

describe('stint ssh-host-cert', () => {
  it('signs a host key with the host CA; ssh-keygen reads a host certificate for the names given', async () => {
    const hostKey = await userKey(work);
    writeFileSync(join(work, 'host_ca'), sshd.hostCaKey, { mode: 0o600 });
    const r = await stint([
      'ssh-host-cert',
      `${hostKey.path}.pub`,
      '--ca',
      join(work, 'host_ca'),
      '--hostname',
      'bastion.example.com,10.1.2.3',
      '--days',
      '30',
    ]);
    expect(r.stderr).toMatch(/HostCertificate/);
    expect(r.code).toBe(0);
    const listed = (await run('ssh-keygen', ['-L', '-f', `${hostKey.path}-cert.pub`])).stdout;
    expect(listed).toMatch(/host certificate/);
    expect(listed).toMatch(/Principals: \n\s+bastion\.example\.com\n\s+10\.1\.2\.3\n/);
    const caFingerprint = (await run('ssh-keygen', ['-l', '-f', join(sshd.dir, 'host_ca.pub')])).stdout.split(
      ' ',
    )[1];
    expect(listed).toContain(`Signing CA: ED25519 ${caFingerprint}`);

    // A public key given as the CA: refused by name, not by content.
    const bad = await stint([
      'ssh-host-cert',
      `${hostKey.path}.pub`,
      '--ca',
      `${hostKey.path}.pub`,
      '--hostname',
      'h',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/must be an OpenSSH .* or PKCS#8 PEM private key/);
    expect(bad.stderr).not.toContain(hostKey.publicKey.split(' ')[1]);
  });
});
