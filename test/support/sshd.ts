import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseCaKey } from '../../src/providers/ssh/ca-key.js';
import { signHostCertificate } from '../../src/providers/ssh/host-certificate.js';

/**
 * A real OpenSSH server for one test file, on a free high port of 127.0.0.1, trusting a user CA made for the run
 * (`TrustedUserCAKeys`), reading the KRL Stint publishes (`RevokedKeys`), mapping principals to accounts
 * (`AuthorizedPrincipalsFile`), with no password, keyboard-interactive or authorized_keys login at all: a login
 * that works went through a certificate. Its host key carries a certificate from a host CA, so clients check it
 * with one `@cert-authority` line and `StrictHostKeyChecking yes`.
 *
 * Started per file rather than once per run: sshd is up in milliseconds, and each file then owns its CA, KRL and
 * ledger outright.
 */

export const SSHD = '/usr/sbin/sshd';
export const HOST = '127.0.0.1';

/** The account certificates log in as. Root runs sshd with privilege separation and a dedicated account. */
export const TEST_ACCOUNT = 'stint-ssh';

export interface Sshd {
  port: number;
  dir: string;
  /** The account accepting the principals given to startSshd. */
  account: string;
  /** An account whose AuthorizedPrincipalsFile lists nothing: every certificate is refused for it. */
  otherAccount: string | null;
  /** The user CA's private key as `ssh-keygen -t ed25519 -N ''` writes it: the ssh kind's connection secret. */
  userCaKey: string;
  /** The host CA's public line: the resource's `hostCaPublicKey`. */
  hostCaPublicKey: string;
  /** The host CA's private key, for tests of host signing. */
  hostCaKey: string;
  krlPath: string;
  /** Where the ssh kind keeps its ledger. */
  stateDir: string;
  log(): string;
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** Principals the test account accepts. */
  principals: string[];
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program without a shell and answers its exit status and output, failure included. */
export function run(file: string, args: string[], timeoutMs = 15_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, env: clientEnv() }, (err, stdout, stderr) => {
      // Killed for taking too long: said so (124, as timeout(1) does), not mistaken for ssh's own 255.
      if (err?.killed) {
        resolve({
          code: 124,
          stdout: String(stdout),
          stderr: `${stderr}[${file} ${args.join(' ')}: timed out after ${timeoutMs} ms]`,
        });
        return;
      }
      const code = err ? (typeof err.code === 'number' ? err.code : 255) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** No agent, no user config: what a login uses is what the test gives it. */
function clientEnv(): NodeJS.ProcessEnv {
  const { SSH_AUTH_SOCK: _agent, ...env } = process.env;
  return env;
}

const isRoot = () => process.getuid?.() === 0;

/** `useradd` once per machine: a locked password would make sshd refuse the account (UsePAM no), so `*`. */
async function ensureAccount(name: string): Promise<void> {
  if ((await run('id', ['-u', name])).code === 0) return;
  const made = await run('useradd', ['-M', '-d', '/', '-s', '/bin/sh', '-p', '*', name]);
  // Another test file may have made it between the two calls (useradd: 9, name in use).
  if (made.code !== 0 && made.code !== 9) throw new Error(`useradd ${name} failed: ${made.stderr}`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function keygen(path: string, comment: string): Promise<void> {
  const r = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  if (r.code !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

function config(dir: string, port: number, root: boolean): string {
  return `Port ${port}
ListenAddress ${HOST}
HostKey ${dir}/host_key
HostCertificate ${dir}/host_key-cert.pub
PidFile ${dir}/sshd.pid
TrustedUserCAKeys ${dir}/user_ca.pub
RevokedKeys ${dir}/revoked.krl
AuthorizedPrincipalsFile ${dir}/principals/%u
AuthorizedKeysFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin no
AllowTcpForwarding yes
X11Forwarding no
PrintMotd no
PermitUserEnvironment no
LogLevel VERBOSE
${root ? '' : '# not root: sshd can only log in the account it runs as\n'}`;
}

/** Starts sshd on a free port (another process may take the probed port first: then tries another). */
export async function startSshd(options: SshdOptions): Promise<Sshd> {
  const root = isRoot();
  const account = root ? TEST_ACCOUNT : userInfo().username;
  if (root) {
    await ensureAccount(TEST_ACCOUNT);
    // Privilege separation's chroot; the package makes it at boot, which a container never had.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  }
  const dir = mkdtempSync(join(tmpdir(), 'stint-sshd-'));
  // sshd reads AuthorizedPrincipalsFile as the account logging in, so that account must reach it. Private keys
  // inside stay 0600 (ssh-keygen) or in 0700 subdirectories.
  chmodSync(dir, 0o755);
  await keygen(join(dir, 'user_ca'), 'stint-test-user-ca');
  await keygen(join(dir, 'host_ca'), 'stint-test-host-ca');
  await keygen(join(dir, 'host_key'), 'stint-test-host');
  const hostCaKey = readFileSync(join(dir, 'host_ca'), 'utf8');
  const hostCert = signHostCertificate(parseCaKey(hostCaKey), {
    hostPublicKey: readFileSync(join(dir, 'host_key.pub'), 'utf8'),
    hostnames: [HOST],
    validFor: 24 * 3_600_000,
  });
  writeFileSync(join(dir, 'host_key-cert.pub'), `${hostCert}\n`);
  mkdirSync(join(dir, 'principals'));
  writeFileSync(join(dir, 'principals', account), `${options.principals.join('\n')}\n`);
  const otherAccount = root ? 'nobody' : null;
  if (otherAccount) writeFileSync(join(dir, 'principals', otherAccount), '');
  const stateDir = join(dir, 'stint-state');

  let child: ChildProcess | undefined;
  let out = '';
  let port = 0;
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    port = await freePort();
    writeFileSync(join(dir, 'sshd_config'), config(dir, port, root));
    out = '';
    const started = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    started.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      const check = () => {
        if (out.includes('Server listening on')) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      started.stderr?.on('data', check);
      started.once('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (ok) child = started;
    else {
      started.kill('SIGKILL');
      if (!/Address already in use/.test(out)) throw new Error(`sshd did not start:\n${out}`);
    }
  }
  if (!child) throw new Error(`sshd found no free port:\n${out}`);
  const running = child;

  return {
    port,
    dir,
    account,
    otherAccount,
    userCaKey: readFileSync(join(dir, 'user_ca'), 'utf8'),
    hostCaPublicKey: readFileSync(join(dir, 'host_ca.pub'), 'utf8').trim(),
    hostCaKey,
    krlPath: join(dir, 'revoked.krl'),
    stateDir,
    log: () => out,
    async stop() {
      if (running.exitCode === null && running.signalCode === null) {
        await new Promise<void>((resolve) => {
          running.once('exit', () => resolve());
          running.kill('SIGTERM');
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A user's key pair, made the way a user would, in a 0700 directory. */
export interface UserKey {
  path: string;
  publicKey: string;
}

let keys = 0;
export async function userKey(dir: string, type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519', bits?: number) {
  const keyDir = join(dir, 'keys');
  mkdirSync(keyDir, { recursive: true, mode: 0o700 });
  keys += 1;
  const path = join(keyDir, `id_${type}_${keys}`);
  const args = ['-q', '-t', type, '-N', '', '-C', `user${keys}`, '-f', path];
  if (bits) args.push('-b', String(bits));
  const r = await run('ssh-keygen', args);
  if (r.code !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  return { path, publicKey: readFileSync(`${path}.pub`, 'utf8').trim() } satisfies UserKey;
}

/** What a client needs to log in with a certificate and to check the host by its CA alone. */
export interface Login {
  keyPath: string;
  /** The certificate line, written beside the key as `<key>-cert.pub`. */
  certificate: string;
  /** The `@cert-authority` line. */
  knownHosts: string;
  user: string;
  port: number;
  /** Source address to connect from (a loopback alias), for source-address tests. */
  bind?: string;
}

export function sshArgs(login: Login): string[] {
  const certPath = `${login.keyPath}-cert.pub`;
  writeFileSync(certPath, `${login.certificate}\n`, { mode: 0o600 });
  const knownHosts = `${login.keyPath}.known_hosts`;
  writeFileSync(knownHosts, `${login.knownHosts}\n`);
  return [
    '-F',
    '/dev/null',
    '-i',
    login.keyPath,
    '-o',
    `CertificateFile=${certPath}`,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'IdentityAgent=none',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'ConnectTimeout=5',
    '-o',
    'LogLevel=ERROR',
    ...(login.bind ? ['-b', login.bind] : []),
    '-p',
    String(login.port),
    `${login.user}@${HOST}`,
  ];
}

/** One real login that runs `command` and returns. */
export function sshRun(login: Login, command: string[], extra: string[] = []): Promise<Run> {
  return run('ssh', [...extra, ...sshArgs(login), ...command]);
}

/** A live SSH connection held open, with commands run inside it (no new login) through its control socket. */
export interface SshSession {
  /** Runs a command in the session. */
  exec(command: string[]): Promise<Run>;
  /** Asks the server, inside the session, to forward a remote port: only a certificate with permit-port-forwarding may. */
  remoteForward(): Promise<Run>;
  alive(): Promise<boolean>;
  close(): Promise<void>;
}

let sessions = 0;
/** Logs in and keeps the connection (ControlMaster); rejects with ssh's message when the server refuses. */
export async function openSshSession(login: Login): Promise<SshSession> {
  sessions += 1;
  const control = join(login.keyPath.replace(/[^/]+$/, ''), `ctl-${sessions}`);
  const master = spawn('ssh', ['-M', '-S', control, '-N', '-o', 'ControlPersist=no', ...sshArgs(login)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: clientEnv(),
  });
  let err = '';
  master.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<void>((resolve) => master.once('exit', () => resolve()));
  const mux = (args: string[]) => run('ssh', ['-F', '/dev/null', '-S', control, ...args]);
  const check = async () => (await mux(['-O', 'check', HOST])).code === 0;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (master.exitCode !== null || master.signalCode !== null) {
      throw new Error(`ssh login refused: ${err.trim() || `exit ${master.exitCode}`}`);
    }
    if (await check()) break;
    if (Date.now() > deadline) {
      master.kill('SIGKILL');
      throw new Error(`ssh login did not complete: ${err.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    exec: (command) => mux([HOST, ...command]),
    remoteForward: () => mux(['-O', 'forward', '-R', `0:${HOST}:9`, HOST]),
    alive: async () => master.exitCode === null && master.signalCode === null && (await check()),
    async close() {
      if (master.exitCode !== null || master.signalCode !== null) return;
      // ssh now and then misses a SIGTERM that lands just before it waits (the test then hung to its timeout):
      // ask the master to exit through its socket, signal it as well, and kill it if it is still there.
      await mux(['-O', 'exit', HOST]);
      master.kill('SIGTERM');
      const gone = await Promise.race([exited.then(() => true), sleep(2_000).then(() => false)]);
      if (!gone) {
        master.kill('SIGKILL');
        await exited;
      }
    },
  };
}
