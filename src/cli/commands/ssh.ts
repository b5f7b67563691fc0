import { execFile, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { parseCertificate } from '../../providers/ssh/certificate.js';
import type { RequestView } from '../../requests/request-types.js';
import type { StintApi } from '../api.js';
import { CliError, ExitStatus } from '../cli-error.js';
import type { CliContext } from '../context.js';

const run = promisify(execFile);

/** A certificate this close to its end is not worth a login that would be cut off. */
const MIN_LEFT_MS = 5_000;

/** What `stint ssh` keeps per request beside the key, to log in again without a second take. */
interface Target {
  user: string;
  host: string;
  port: string;
  /** The recording proxy the take named (`host:port`), and its host key: logins go through it. */
  proxyAddress?: string;
  proxyHostKey?: string;
}

interface SshOptions {
  proxy?: string;
  direct?: boolean;
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/**
 * `stint ssh <request or resource> [command…]`: logs in with a certificate Stint signs for a key made here and
 * now. The private key is made in a directory only this user can read and never leaves it: only its public half
 * is sent with the take. The certificate and the host CA's known_hosts line are kept beside it, so another login
 * within the window needs no second take (a credential is shown once); expired ones are removed. When the server
 * runs Stint's recording proxy (or `--proxy` names one), the login goes through it; the grant's proxy token is kept
 * beside the key (`proxy-token`) for a login to the proxy without this certificate.
 */
export function registerSsh(program: Command, ctx: CliContext): void {
  program
    .command('ssh')
    .description('log in to an SSH resource with a short-lived certificate for your active request')
    .argument('<request-or-resource>', 'a request id (req_…), or a resource you have an active request for')
    .argument('[command...]', 'a command to run instead of a shell (after --)')
    .option(
      '--proxy <host:port>',
      'log in through this Stint recording proxy (default: the one the server names, if it runs one)',
    )
    .option('--direct', 'log in to the host itself even when the server names a proxy')
    .action(async (target: string, command: string[], opts: SshOptions, cmd: Command) => {
      if (opts.proxy !== undefined && opts.direct) {
        throw new CliError('USAGE', '--proxy and --direct cannot both be given');
      }
      if (opts.proxy !== undefined && !HOST_PORT.test(opts.proxy)) {
        throw new CliError(
          'USAGE',
          `--proxy must be host:port, e.g. proxy.example.com:2222 (got ${opts.proxy})`,
        );
      }
      const api = ctx.api(cmd);
      const request = await findRequest(api, target);
      const base = keyBase(ctx.io.env);
      removeExpired(base, ctx.now());
      const dir = join(base, request.id);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const key = join(dir, 'id_ed25519');
      const cert = `${key}-cert.pub`;
      const knownHosts = join(dir, 'known_hosts');
      const targetFile = join(dir, 'target.json');
      if (!usable(cert, ctx.now())) {
        await newKey(key, request.id);
        const credential = await api
          .takeCredential(request.id, { publicKey: readFileSync(`${key}.pub`, 'utf8').trim() })
          .catch((e: unknown) => {
            if (e instanceof CliError && e.code === 'CREDENTIAL_ALREADY_SHOWN') {
              throw new CliError(
                e.code,
                `the certificate of ${request.id} was taken already, not by stint ssh on this machine; ask for access again`,
              );
            }
            throw e;
          });
        const { certificate, knownHosts: caLine, user, host, port } = credential.secret;
        if (!certificate || !caLine || !user || !host || !port) {
          throw new CliError('BAD_RESPONSE', `${request.resource} did not answer with an SSH certificate`);
        }
        const { proxyAddress, proxyHostKey, proxyToken } = credential.secret;
        writeFileSync(knownHosts, `${caLine}\n`, { mode: 0o600 });
        const kept: Target = {
          user,
          host,
          port,
          ...(proxyAddress ? { proxyAddress } : {}),
          ...(proxyHostKey ? { proxyHostKey } : {}),
        };
        writeFileSync(targetFile, JSON.stringify(kept), { mode: 0o600 });
        // Shown once, like the certificate: kept beside it for a login without it (docs/recording.md).
        if (proxyToken) writeFileSync(join(dir, 'proxy-token'), `${proxyToken}\n`, { mode: 0o600 });
        // Last: a certificate on disk means everything a later login needs is there.
        writeFileSync(cert, `${certificate}\n`, { mode: 0o600 });
      }
      const kept = JSON.parse(readFileSync(targetFile, 'utf8')) as Target;
      const via = opts.direct ? undefined : (opts.proxy ?? kept.proxyAddress);
      const code = await sshInto(
        [
          '-i',
          key,
          '-o',
          `CertificateFile=${cert}`,
          '-o',
          'IdentitiesOnly=yes',
          ...(via ? throughProxy(dir, via, kept) : toHost(knownHosts, kept)),
          ...command,
        ],
        ctx.io.env,
      );
      if (code !== 0) throw new ExitStatus(code);
    });
}

/** Straight to the host, checked by the resource's host CA. */
function toHost(knownHosts: string, t: Target): string[] {
  return [
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-p',
    t.port,
    `${t.user}@${t.host}`,
  ];
}

/**
 * Through the recording proxy, as the same account: the proxy is checked by the host key the server's answer named
 * when it is the proxy the answer named, else by the user's own known_hosts (the key the server prints at start).
 */
function throughProxy(dir: string, via: string, t: Target): string[] {
  const [, bracketed = '', port = ''] = HOST_PORT.exec(via) ?? [];
  const host = bracketed.replace(/^\[|\]$/g, '');
  const pinned = via === t.proxyAddress && t.proxyHostKey !== undefined;
  const file = join(dir, 'proxy_known_hosts');
  if (pinned) writeFileSync(file, `[${host}]:${port} ${t.proxyHostKey}\n`, { mode: 0o600 });
  return [
    ...(pinned ? ['-o', `UserKnownHostsFile=${file}`] : []),
    '-o',
    'StrictHostKeyChecking=yes',
    '-p',
    port,
    `${t.user}@${host}`,
  ];
}

/** A request id as given, or the caller's newest active request for a resource. */
async function findRequest(api: StintApi, target: string): Promise<RequestView> {
  if (/^req_/.test(target)) return api.getRequest(target);
  const { requests } = await api.listRequests({ scope: 'mine', state: 'active' });
  const mine = requests
    .filter((r) => r.resource === target)
    .sort((a, b) => (b.activatedAt ?? '').localeCompare(a.activatedAt ?? ''));
  const newest = mine[0];
  if (!newest) {
    throw new CliError(
      'NOT_FOUND',
      `you have no active request for ${target}: ask with "stint request ${target} <role>"`,
    );
  }
  return newest;
}

/**
 * `$STINT_SSH_DIR`, else a per-user directory under the system's temporary one. Refused when another user could
 * read it or owns it: someone who made it first must not get the keys.
 */
function keyBase(env: Readonly<Record<string, string | undefined>>): string {
  const base = env.STINT_SSH_DIR ?? join(env.XDG_RUNTIME_DIR ?? tmpdir(), `stint-ssh-${userInfo().uid}`);
  mkdirSync(base, { recursive: true, mode: 0o700 });
  const st = lstatSync(base);
  if (!st.isDirectory() || st.uid !== userInfo().uid || (st.mode & 0o077) !== 0) {
    throw new CliError('USAGE', `${base} must be a directory of yours that no one else can read (chmod 700)`);
  }
  return base;
}

function usable(cert: string, now: Date): boolean {
  if (!existsSync(cert)) return false;
  try {
    return parseCertificate(readFileSync(cert, 'utf8')).validBefore.getTime() - now.getTime() > MIN_LEFT_MS;
  } catch {
    return false;
  }
}

/** Keys and certificates of requests whose certificate has run out: nothing left to use them for. */
function removeExpired(base: string, now: Date): void {
  for (const name of readdirSync(base)) {
    const cert = join(base, name, 'id_ed25519-cert.pub');
    if (existsSync(cert) && !usable(cert, now)) rmSync(join(base, name), { recursive: true, force: true });
  }
}

async function newKey(path: string, requestId: string): Promise<void> {
  rmSync(path, { force: true });
  rmSync(`${path}.pub`, { force: true });
  try {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `stint ${requestId}`, '-f', path]);
  } catch (e) {
    throw new CliError('USAGE', `ssh-keygen could not make a key: ${(e as Error).message}`);
  }
}

/** Runs ssh on this terminal, as `exec` would: its exit status is the command's. */
function sshInto(args: string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: 'inherit', env: { ...env } });
    child.once('error', (e) => reject(new CliError('USAGE', `cannot run ssh: ${e.message}`)));
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
