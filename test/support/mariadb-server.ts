import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';

const run = promisify(execFile);

const DOCS = fileURLToPath(new URL('../../docs/mariadb-target.md', import.meta.url));

/** What a test needs of its own MariaDB server: where it listens, Stint's admin URL, and a root connection. */
export interface MariaDbServer {
  host: string;
  port: number;
  /** Stint's least-privileged admin account (made by the docs' setup block), database `app`. */
  stintAdminUrl: string;
  /** A connection as root, over the server's socket (root has a real password; it has no TCP account). */
  root(): Promise<mysql.Connection>;
  /** The server's own log, for a failure's message. */
  log(): string;
  stop(): Promise<void>;
}

function findBinary(name: string, dirs: string[]): string {
  for (const d of dirs) if (existsSync(join(d, name))) return join(d, name);
  throw new Error(`${name} not found in ${dirs.join(', ')} (install the Debian package mariadb-server)`);
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

/** The SQL block of docs/mariadb-target.md that sets up Stint's admin account: the tests run exactly it. */
export function documentedAdminSetup(): string {
  const docs = readFileSync(DOCS, 'utf8');
  for (const block of docs.matchAll(/```sql\n([\s\S]*?)```/g)) {
    const body = block[1] ?? '';
    if (body.startsWith('-- stint-admin-setup: mariadb\n')) return body;
  }
  throw new Error('docs/mariadb-target.md has no sql block starting "-- stint-admin-setup: mariadb"');
}

/**
 * A throwaway MariaDB server with real passwords on a free high port (the machine's own server lets root in by
 * socket without one, so it cannot prove that an issued password works or that a wrong one is refused). Started
 * per test file: the shared global setup belongs to the PostgreSQL cluster, and a server is up in about a second.
 */
export async function startMariaDb(): Promise<MariaDbServer> {
  const mariadbd = findBinary('mariadbd', ['/usr/sbin', '/usr/bin', '/usr/local/sbin']);
  const installDb = findBinary('mariadb-install-db', ['/usr/bin', '/usr/sbin', '/usr/local/bin']);
  const base = mkdtempSync(join(tmpdir(), 'stint-mdb-'));
  const dataDir = join(base, 'data');
  const socket = join(base, 'mysqld.sock');
  const errorLog = join(base, 'error.log');
  // mariadbd refuses to run as root unless told to: in a container the tests often are root.
  const asUser = process.getuid?.() === 0 ? ['--user=root'] : [];
  const rootPassword = randomBytes(18).toString('base64url');
  const adminPassword = randomBytes(18).toString('base64url');

  let child: ChildProcess | undefined;
  let port = 0;
  const kill = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  // Should the run end before teardown, leave no server and no data behind.
  const onExit = () => {
    kill();
    rmSync(base, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const stop = async () => {
    process.removeListener('exit', onExit);
    const c = child;
    if (c && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const forced = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(forced);
    }
    rmSync(base, { recursive: true, force: true });
  };
  const log = () => (existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : '');

  // Its own temporary directory: bootstraps sharing /tmp have tripped over each other's temporary tables.
  const ownTmp = { env: { ...process.env, TMPDIR: base } };
  try {
    await run(
      installDb,
      [
        '--no-defaults',
        `--datadir=${dataDir}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        ...asUser,
        `--tmpdir=${base}`,
      ],
      ownTmp,
    );
    // Another process may take the free port before the server binds it: try a fresh one.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const started = spawn(
        mariadbd,
        [
          '--no-defaults',
          `--datadir=${dataDir}`,
          `--port=${port}`,
          `--socket=${socket}`,
          '--bind-address=127.0.0.1',
          `--pid-file=${join(base, 'mysqld.pid')}`,
          `--log-error=${errorLog}`,
          `--tmpdir=${base}`,
          '--skip-name-resolve',
          '--skip-log-bin',
          '--event-scheduler=ON',
          '--performance-schema=OFF',
          '--innodb-buffer-pool-size=32M',
          '--innodb-flush-log-at-trx-commit=0',
          '--max-connections=300',
          ...asUser,
        ],
        { stdio: 'ignore', ...ownTmp },
      );
      child = started;
      if (await ready(started, socket)) break;
      if (attempt === 3) throw new Error(`mariadbd did not start:\n${log()}`);
    }

    const root = await mysql.createConnection({ socketPath: socket, user: 'root', multipleStatements: true });
    try {
      await provision(root, rootPassword, adminPassword);
    } finally {
      await root.end();
    }
    return {
      host: '127.0.0.1',
      port,
      stintAdminUrl: `mysql://stint_admin:${encodeURIComponent(adminPassword)}@127.0.0.1:${port}/app`,
      root: () =>
        mysql.createConnection({
          socketPath: socket,
          user: 'root',
          password: rootPassword,
          connectTimeout: 3_000,
          multipleStatements: true,
        }),
      log,
      stop,
    };
  } catch (err) {
    kill();
    await stop();
    throw err;
  }
}

/** Resolves true once the server answers on its socket, false when it exited first (a port clash). */
async function ready(child: ChildProcess, socket: string): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    try {
      const c = await mysql.createConnection({ socketPath: socket, user: 'root', connectTimeout: 1_000 });
      await c.end();
      return true;
    } catch {
      await sleep(50);
    }
  }
  return false;
}

/**
 * Root gets a password and loses every other account install-db made (root@127.0.0.1 and root@::1 have none);
 * then the target as a team would have it (database `app`, roles app_read and app_admin) and Stint's admin
 * account exactly as the docs set it up.
 */
async function provision(root: mysql.Connection, rootPassword: string, adminPassword: string): Promise<void> {
  const [others] = await root.query<mysql.RowDataPacket[]>(
    "SELECT User, Host FROM mysql.user WHERE Host <> '' AND NOT (User = 'root' AND Host = 'localhost') AND User <> 'mariadb.sys'",
  );
  for (const r of others) await root.query('DROP USER ?@?', [r.User, r.Host]);
  await root.query(`
    CREATE DATABASE app;
    CREATE TABLE app.accounts (id INT PRIMARY KEY, owner VARCHAR(40) NOT NULL, balance DECIMAL(12,2) NOT NULL);
    INSERT INTO app.accounts VALUES (1, 'alice', 100), (2, 'bob', 250), (3, 'carol', 75);
    CREATE ROLE app_read;
    GRANT SELECT ON app.* TO app_read;
    CREATE ROLE app_admin;
    GRANT ALL ON app.* TO app_admin;
  `);
  await root.query(documentedAdminSetup().replaceAll("'change-me'", root.escape(adminPassword)));
  await root.query('ALTER USER root@localhost IDENTIFIED BY ?', [rootPassword]);
}
