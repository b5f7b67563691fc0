import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** What tests receive through `inject('pgCluster')`: plain data, so it crosses from global setup to workers. */
export interface PgClusterInfo {
  host: string;
  port: number;
  /** `postgres` superuser, database `postgres`. */
  superuserUrl: string;
  /** Stint's least-privileged admin role (set up as docs/postgres-target.md says), database `app`. */
  stintAdminUrl: string;
}

export interface PgCluster extends PgClusterInfo {
  url(user: string, password: string, db?: string): string;
  /** Stops the server but keeps its data, as an operator's restart or a failover would (`pg_ctl stop -m …`). */
  halt(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts the halted server again on the same port and data; resolves once it accepts connections. */
  resume(): Promise<void>;
  /** The postmaster and every backend and helper process it runs (to SIGSTOP a hung server). */
  pids(): number[];
  stop(): Promise<void>;
}

const DOCS = fileURLToPath(new URL('../../docs/postgres-target.md', import.meta.url));

/** A connection URL on the cluster described by `info`. */
export function pgUrl(
  info: Pick<PgClusterInfo, 'host' | 'port'>,
  user: string,
  password: string,
  db = 'app',
): string {
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${info.host}:${info.port}/${encodeURIComponent(db)}`;
}

/** Opens one client; an 'error' on an idle client (a terminated backend) must not crash the run. */
export async function connectAs(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** The newest PostgreSQL server binaries on this machine. */
export function findPgBinDir(): string {
  try {
    const dir = execFileSync('pg_config', ['--bindir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  } catch {
    // No pg_config on PATH: fall back to the Debian/Ubuntu layout below.
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    : [];
  const newest = versions[0];
  if (newest === undefined)
    throw new Error('no PostgreSQL server binaries found (pg_config --bindir, /usr/lib/postgresql/*/bin)');
  return join(root, newest, 'bin');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** initdb refuses to run as root: when we are root, the server runs as the `postgres` user. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined)
    throw new Error('running as root but there is no postgres user to run the server');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * The SQL block of docs/postgres-target.md that sets up the Stint admin role for this server's major version, so
 * the tests prove that exactly the documented grants are enough.
 */
export function documentedAdminSetup(serverVersionNum: number): string {
  const tag = serverVersionNum >= 160000 ? 'pg16+' : 'pg15';
  const docs = readFileSync(DOCS, 'utf8');
  for (const block of docs.matchAll(/```sql\n([\s\S]*?)```/g)) {
    const body = block[1] ?? '';
    if (body.startsWith(`-- stint-admin-setup: ${tag}\n`)) return body;
  }
  throw new Error(`docs/postgres-target.md has no sql block starting "-- stint-admin-setup: ${tag}"`);
}

/**
 * A throwaway PostgreSQL cluster with scram-sha-256 authentication (the machine's own server trusts everyone, so
 * it cannot prove that an issued password works or that a wrong one is refused).
 */
/**
 * `durable`: commits flushed as a production target flushes them (fsync and synchronous_commit on). The tests
 * run without (a flush per CREATE ROLE is time they do not need); the benchmark's target is durable, so the
 * target's own create + login it calibrates against pays the flush Stint's issuance on it pays too.
 */
export async function startPgCluster(opts: { durable?: boolean } = {}): Promise<PgCluster> {
  const bin = findPgBinDir();
  const user = serverUser();
  const base = mkdtempSync(join(tmpdir(), 'stint-pg-'));
  const dataDir = join(base, 'data');
  const sockDir = join(base, 'sock');
  const pwFile = join(base, 'superuser.pw');
  const superPassword = randomBytes(18).toString('base64url');
  const adminPassword = randomBytes(18).toString('base64url');
  mkdirSync(sockDir);
  writeFileSync(pwFile, `${superPassword}\n`, { mode: 0o600 });
  if (user) for (const p of [base, sockDir, pwFile]) chownSync(p, user.uid, user.gid);

  const asServer = { cwd: base, env: { ...process.env, LC_ALL: 'C', LANG: 'C' }, ...(user ?? {}) };
  const port = await freePort();
  let started = false;
  const stop = async () => {
    if (started) {
      started = false;
      await run(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop'], asServer).catch(() => {});
    }
    rmSync(base, { recursive: true, force: true });
  };
  // Should the run be killed before teardown, leave no postmaster behind.
  const onExit = () => {
    if (!started) return;
    try {
      execFileSync(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', 'stop'], {
        ...asServer,
        stdio: 'ignore',
      });
    } catch {
      // Best effort only.
    }
  };
  process.once('exit', onExit);

  try {
    await run(
      join(bin, 'initdb'),
      [
        '-D',
        dataDir,
        '--auth=scram-sha-256',
        `--pwfile=${pwFile}`,
        '-U',
        'postgres',
        '-E',
        'UTF8',
        '--locale=C',
        '--no-sync',
      ],
      asServer,
    );
    const options = [
      `-p ${port}`,
      `-k ${sockDir}`,
      '-c listen_addresses=127.0.0.1',
      '-c max_connections=200',
      ...(opts.durable ? [] : ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off']),
    ].join(' ');
    // -l sends the server's output to a file: otherwise the daemon holds our pipes open and pg_ctl never "exits".
    const startServer = async () => {
      await run(
        join(bin, 'pg_ctl'),
        ['-D', dataDir, '-l', join(base, 'server.log'), '-w', '-t', '60', '-o', options, 'start'],
        asServer,
      );
      started = true;
    };
    await startServer();

    const host = '127.0.0.1';
    const info = { host, port };
    const superuserUrl = pgUrl(info, 'postgres', superPassword, 'postgres');
    await provisionTarget(superuserUrl, pgUrl(info, 'postgres', superPassword, 'app'), adminPassword);

    return {
      host,
      port,
      superuserUrl,
      stintAdminUrl: pgUrl(info, 'stint_admin', adminPassword, 'app'),
      url: (u, p, db = 'app') => pgUrl(info, u, p, db),
      async halt(mode = 'fast') {
        await run(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', mode, '-w', 'stop'], asServer);
        started = false;
      },
      resume: startServer,
      pids: () => clusterPids(dataDir),
      async stop() {
        process.removeListener('exit', onExit);
        await stop();
      },
    };
  } catch (err) {
    process.removeListener('exit', onExit);
    await stop();
    throw err;
  }
}

/** The postmaster (first line of postmaster.pid) and its children, found through /proc. */
function clusterPids(dataDir: string): number[] {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const children = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        // The command name is in parentheses and may hold spaces; the parent pid is the 2nd field after it.
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster;
      } catch {
        return false;
      }
    })
    .map(Number);
  return [postmaster, ...children];
}

/** The target as a team would have it (database `app`, team roles, a table) plus Stint's admin role. */
async function provisionTarget(
  postgresDbUrl: string,
  appDbUrl: string,
  adminPassword: string,
): Promise<void> {
  const root = await connectAs(postgresDbUrl);
  let versionNum: number;
  try {
    await root.query('CREATE DATABASE app');
    await root.query('CREATE ROLE app_admin NOLOGIN');
    await root.query('CREATE ROLE app_read NOLOGIN');
    const { rows } = await root.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
    versionNum = Number(rows[0]?.v);
  } finally {
    await root.end();
  }

  const app = await connectAs(appDbUrl);
  try {
    await app.query(`
      CREATE TABLE public.accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric NOT NULL);
      INSERT INTO public.accounts VALUES (1, 'alice', 100), (2, 'bob', 250), (3, 'carol', 75);
      ALTER TABLE public.accounts OWNER TO app_admin;
      GRANT ALL ON public.accounts TO app_admin;
      GRANT SELECT ON public.accounts TO app_read;
      GRANT CREATE ON SCHEMA public TO app_admin;
    `);
    const setup = documentedAdminSetup(versionNum).replaceAll("'change-me'", pg.escapeLiteral(adminPassword));
    await app.query(setup);
  } finally {
    await app.end();
  }
}
