import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { expect } from 'vitest';
import { listAudit } from '../../src/audit/audit-store.js';
import { parseCaKey } from '../../src/providers/ssh/ca-key.js';
import type { RecordingConfig, S3RecordingConfig } from '../../src/recording/recording-config.js';
import {
  createRecordingModule,
  NO_PROXY,
  type RecordingModule,
} from '../../src/recording/recording-module.js';
import { DEFAULT_SEGMENT_LIMITS } from '../../src/recording/segments.js';
import { certificateAuthHandler, installCertificateLogin } from '../../src/recording/ssh-proxy/cert-auth.js';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness } from '../support/harness.js';
import { waitFor } from '../support/pg-client.js';
import { HOST, type Login, type Run, run, type Sshd, sshArgs, startSshd, userKey } from '../support/sshd.js';
import type { StoreKind } from '../support/stores.js';

/**
 * A real sshd, the real application (harness) with an SSH resource on it, and the recording module with its proxy
 * built from the application's own parts, as createStint builds it: one store, one audit trail. Users log in to the
 * proxy with the system `ssh` client and a certificate taken through the API.
 */
export interface ProxyFixture {
  sshd: Sshd;
  h: Harness;
  rec: RecordingModule;
  dir: string;
  proxyPort: number;
  /** Asks for the resource as alice, waits until active, takes a certificate: a login for the proxy. */
  grant(opts?: {
    resource?: string;
    role?: string;
    approvers?: string[];
    reason?: string;
    duration?: string;
    requester?: string;
  }): Promise<Granted>;
  ssh(login: Login, command: string[], extra?: string[]): Promise<Run>;
  events(requestId: string): Promise<{ action: string; details: Record<string, unknown> }[]>;
  close(): Promise<void>;
}

export interface Granted {
  requestId: string;
  login: Login;
  /** The same certificate, for a login straight to the host (bypassing the proxy). */
  direct: Login;
  /** Everything the take showed (the certificate, the proxy token…). */
  secret: Record<string, string>;
}

export interface FixtureOptions {
  store?: StoreKind;
  storage?: 'local' | 'store' | 's3';
  /** With storage `s3`: the bucket (the application's routes play from it too). */
  s3?: S3RecordingConfig;
  /** The ssh resource's `proxy:` block (YAML flow map), e.g. `{ portForwarding: true }`. */
  proxy?: string;
  segmentBytes?: number;
  sampleRate?: number;
  pollMs?: number;
  /** Serve the store of another harness (HA). */
  beside?: Harness;
  /** This fixture's own proxy (false: the application only, e.g. the server that approves in an HA test). */
  withProxy?: boolean;
  sshd?: Sshd;
}

export function policyFor(sshd: Sshd, opts: FixtureOptions): string {
  const resource = (
    id: string,
    sensitivity: string,
    proxy: string | undefined,
    roles: string,
  ) => `  - id: ${id}
    kind: ssh
    sensitivity: ${sensitivity}
    connection: { env: STINT_SSH_CA }
    options:
      host: ${HOST}
      port: ${sshd.port}
      user: ${sshd.account}
      principals: [ops]
      hostCaPublicKey: "${sshd.hostCaPublicKey}"
      stateDir: ${sshd.stateDir}
      krlPath: ${sshd.krlPath}
${proxy ? `      proxy: ${proxy}\n` : ''}    roles:
${roles}`;
  const ops = '      ops: { grants: [ops] }\n';
  const tunnel = '      tunnel: { grants: [ops, "extension:permit-port-forwarding"] }\n';
  return `version: 1
settings: { deployment: rec-test, hardCap: 4h }
users:
  - { id: alice, email: alice@example.com, name: Alice, manager: carol, teams: [crew] }
  - { id: carol, email: carol@example.com, name: Carol, teams: [leads] }
  - { id: sam, email: sam@example.com, name: Sam, teams: [security, crew], security: true }
  - { id: dave, email: dave@example.com, name: Dave, teams: [security], security: true }
  - { id: erin, email: erin@example.com, name: Erin, teams: [audit], auditor: true }
  - { id: root, email: root@example.com, name: Root, teams: [platform], admin: true }
  - { id: mallory, email: mallory@example.com, name: Mallory, teams: [other] }
resources:
${resource('bastion', 'routine', opts.proxy, ops + tunnel)}${resource('typed', 'routine', '{ captureInput: true }', ops)}${resource(
  'tunnel-host',
  'routine',
  '{ portForwarding: true }',
  tunnel,
)}${resource('lenient', 'routine', '{ onRecordingFailure: continue }', ops)}${resource('vault-host', 'critical', undefined, ops)}rules:
  - id: crew
    resources: [bastion, typed, tunnel-host, lenient]
    roles: ['*']
    who: { teams: [crew] }
    duration: { min: 1s, default: 10m, max: 1h }
    ticket: { required: false }
    approval: [auto]
  - id: crew-critical
    resources: [vault-host]
    roles: ['*']
    who: { teams: [crew] }
    duration: { min: 1s, default: 10m, max: 1h }
    ticket: { required: false }
    approval: [security]
`;
}

/**
 * The shared test sshd has no SFTP subsystem; these tests need one. Added to its config and sshd told to re-read
 * it (SIGHUP: it re-executes itself on the same port), without changing the shared helper.
 */
export async function withSftp(sshd: Sshd): Promise<Sshd> {
  const config = join(sshd.dir, 'sshd_config');
  appendFileSync(config, 'Subsystem sftp internal-sftp\n');
  // Its pid: the one sshd whose command line names this test's own config file (a unique temp path).
  const found = await run('pgrep', ['-f', '--', config]);
  const pid = Number(found.stdout.trim().split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`sshd for ${config} not found`);
  const before = sshd.log().split('Server listening on').length;
  process.kill(pid, 'SIGHUP');
  await waitFor(async () => sshd.log().split('Server listening on').length > before);
  return sshd;
}

export function recordingConfig(dir: string, opts: FixtureOptions): RecordingConfig {
  return {
    storage: opts.storage ?? 'local',
    dir: join(dir, 'recordings'),
    s3: opts.s3 ?? null,
    sshProxy: {
      host: HOST,
      port: 0,
      hostKeyFile: join(dir, 'proxy-host-key'),
      pollMs: opts.pollMs ?? 100,
    },
    segments: { ...DEFAULT_SEGMENT_LIMITS, maxBytes: opts.segmentBytes ?? DEFAULT_SEGMENT_LIMITS.maxBytes },
    sampling: { rate: opts.sampleRate ?? 0.05, incidentPattern: /^INC-[0-9]+/, dueDays: 7 },
  };
}

export async function startFixture(opts: FixtureOptions = {}): Promise<ProxyFixture> {
  const sshd = opts.sshd ?? (await withSftp(await startSshd({ principals: ['ops'] })));
  const dir = mkdtempSync(join(tmpdir(), 'stint-rec-'));
  const h = await createHarness(opts.store ?? 'sqlite', {
    policy: policyFor(sshd, opts),
    env: { STINT_SSH_CA: sshd.userCaKey },
    ...(opts.s3 ? { recording: { ...NO_PROXY, storage: 's3' as const, s3: opts.s3 } } : {}),
    ...(opts.beside
      ? {
          beside: opts.beside.testStore,
          deployment: opts.beside.deployment,
          // One store: its users stepped up, and its sealing key, once, by the first server.
          stepUp: false,
          secrets: opts.beside.stint.deps.secrets,
          auditSigner: opts.beside.auditSigner,
          checkpointDir: opts.beside.checkpointDir,
        }
      : {}),
  });
  const rec = createRecordingModule({
    ...h.stint.deps,
    storeId: h.storeId,
    config: recordingConfig(dir, opts),
  });
  if (opts.withProxy !== false) for (const job of rec.module.jobs ?? []) await job.start();
  const proxyPort = rec.proxy()?.address().port ?? 0;
  const knownHosts = `[${HOST}]:${proxyPort} ${rec.hostKeyLine()}`;

  return {
    sshd,
    h,
    rec,
    dir,
    proxyPort,
    async grant(g = {}) {
      const resource = g.resource ?? 'bastion';
      const key = await userKey(dir);
      const r = await activeGrant(h, {
        resource,
        role: g.role ?? 'ops',
        reason: g.reason ?? 'maintenance',
        ...(g.approvers ? { approvers: g.approvers } : {}),
        ...(g.duration ? { duration: g.duration } : {}),
        ...(g.requester ? { requester: g.requester } : {}),
        take: { publicKey: key.publicKey },
      });
      const secret = r.credential.secret as Record<string, string>;
      expect(secret.certificate).toMatch(/-cert-v01@openssh\.com /);
      const login: Login = {
        keyPath: key.path,
        certificate: secret.certificate as string,
        knownHosts,
        user: sshd.account,
        port: proxyPort,
      };
      return {
        requestId: r.id as string,
        login,
        direct: { ...login, knownHosts: secret.knownHosts as string, port: sshd.port },
        secret,
      };
    },
    ssh: (login, command, extra = []) => run('ssh', [...extra, ...sshArgs(login), ...command], 60_000),
    async events(requestId) {
      const events = await listAudit(h.stint.deps.store.db, { requestId, limit: 10_000 });
      return events.map((e) => ({ action: e.action, details: e.details }));
    },
    async close() {
      for (const job of [...(rec.module.jobs ?? [])].reverse()) await job.stop();
      await h.close();
      if (!opts.sshd) await sshd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `ssh` kept running, its output read as it comes: for sessions a test ends from outside. */
export interface LiveSsh {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; at: number }>;
}

export function spawnSsh(login: Login, command: string[], extra: string[] = []): LiveSsh {
  const { SSH_AUTH_SOCK: _agent, ...env } = process.env;
  const child = spawn('ssh', [...extra, ...sshArgs(login), ...command], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.once('exit', (code) => resolve({ code, at: performance.now() })),
  );
  return { child, output: () => out, exited };
}

/**
 * A user's connection to the proxy made with ssh2 (which the OpenSSH client cannot do for a test: resize a pty
 * from outside, send a malformed SFTP packet), logging in with the same certificate through the proxy's own
 * certificate-login adapter.
 */
export async function userClient(login: Login): Promise<ssh2.Client> {
  const key = parseCaKey(readFileSync(login.keyPath, 'utf8'));
  const [certType = '', b64 = ''] = login.certificate.split(' ');
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({
      host: HOST,
      port: login.port,
      username: login.user,
      hostVerifier: () => true,
      authHandler: certificateAuthHandler(login.user) as unknown as ssh2.ConnectConfig['authHandler'],
    });
    installCertificateLogin(client, {
      username: login.user,
      certType,
      certBlob: Buffer.from(b64, 'base64'),
      privateKey: key.privateKey,
    });
  });
  return client;
}

/** Reads a stream until `pattern` shows up in what it sent (or fails after `timeoutMs`). */
export function until(stream: NodeJS.ReadableStream, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => {
      stream.off('data', onData);
      reject(new Error(`${pattern} not seen in time; got ${JSON.stringify(seen.slice(-500))}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        stream.off('data', onData);
        resolve(seen);
      }
    };
    stream.on('data', onData);
  });
}

/** A script ssh runs for its password prompt (SSH_ASKPASS, forced): it answers $STINT_TEST_TOKEN. */
export function askpassScript(dir: string): string {
  const path = join(dir, 'askpass.sh');
  writeFileSync(path, '#!/bin/sh\nprintf "%s\\n" "$STINT_TEST_TOKEN"\n', { mode: 0o700 });
  return path;
}

/**
 * The real `ssh` client logging in to `f`'s proxy with a grant's proxy token instead of a certificate: typed by
 * SSH_ASKPASS as the password, or as the answer to the proxy's keyboard-interactive prompt.
 */
export function tokenLogin(
  f: Pick<ProxyFixture, 'dir' | 'proxyPort' | 'rec' | 'sshd'>,
  askpass: string,
  token: string,
  command: string[],
  method: 'password' | 'keyboard-interactive' = 'password',
): Promise<Run> {
  const knownHosts = join(f.dir, 'proxy.known_hosts');
  writeFileSync(knownHosts, `[${HOST}]:${f.proxyPort} ${f.rec.hostKeyLine()}\n`);
  const { SSH_AUTH_SOCK: _agent, DISPLAY: _display, ...env } = process.env;
  const options = [
    'PubkeyAuthentication=no',
    `PreferredAuthentications=${method}`,
    'NumberOfPasswordPrompts=1',
    'IdentityAgent=none',
    'StrictHostKeyChecking=yes',
    `UserKnownHostsFile=${knownHosts}`,
    'GlobalKnownHostsFile=/dev/null',
    'ConnectTimeout=5',
    'LogLevel=ERROR',
  ].flatMap((o) => ['-o', o]);
  const args = [
    '-F',
    '/dev/null',
    ...options,
    '-p',
    String(f.proxyPort),
    `${f.sshd.account}@${HOST}`,
    ...command,
  ];
  return new Promise((resolve) => {
    execFile(
      'ssh',
      args,
      {
        timeout: 30_000,
        env: { ...env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', STINT_TEST_TOKEN: token },
      },
      (err, stdout, stderr) =>
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : 1) : 0,
          stdout: String(stdout),
          stderr: String(stderr),
        }),
    );
  });
}
