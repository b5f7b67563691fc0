import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

const REDIS_SERVER = '/usr/bin/redis-server';
const DOCS = fileURLToPath(new URL('../../docs/redis-target.md', import.meta.url));

/** A throwaway redis-server with ACLs on: the machine's own Redis on 6379 has no password and is never used. */
export interface RedisTarget {
  host: string;
  port: number;
  dir: string;
  aclfile: string;
  /** `redis://stint_admin:…@127.0.0.1:<port>`: the admin user exactly as docs/redis-target.md sets it up. */
  adminUrl: string;
  adminPassword: string;
  /** A connection as the test's own all-powerful user (never given to a provider), for checking the target. */
  root(): Promise<Redis>;
  /** A connection as `user`; rejects when the server refuses the login. */
  connectAs(user: string, password: string): Promise<Redis>;
  /** kill -9 of the server, then a start on the same port and files: only what was saved comes back. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The aclfile line of docs/redis-target.md that sets up Stint's admin user, so the tests prove that exactly the
 * documented permissions are enough.
 */
export function documentedAdminLine(password: string): string {
  const docs = readFileSync(DOCS, 'utf8');
  for (const block of docs.matchAll(/```conf\n([\s\S]*?)```/g)) {
    const body = block[1] ?? '';
    if (!body.startsWith('# stint-admin-setup\n')) continue;
    const line = body.split('\n').find((l) => l.startsWith('user stint_admin '));
    if (line) return line.replace('>change-me', `>${password}`);
  }
  throw new Error(
    'docs/redis-target.md has no block starting "# stint-admin-setup" with a user stint_admin line',
  );
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

/** A client that neither retries nor queues: a refused login or a dead server fails at once. */
export async function connectRedis(
  host: string,
  port: number,
  user: string,
  password: string,
): Promise<Redis> {
  const client = new Redis({
    host,
    port,
    username: user,
    password,
    lazyConnect: true,
    protocol: 2,
    disableClientInfo: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 3_000,
  });
  // The reason a login or connection was refused comes as an 'error' event; connect() says only "closed".
  let reason: unknown;
  client.on('error', (err) => {
    reason ??= err;
  });
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw reason ?? err;
  }
  return client;
}

/**
 * `aclfile: false` starts a server whose users are in its config file instead, as a Redis set up without an
 * aclfile is: `ACL SAVE` fails there. `args` are more redis-server options.
 */
export async function startRedis(opts: { aclfile?: boolean; args?: string[] } = {}): Promise<RedisTarget> {
  const withAclfile = opts.aclfile !== false;
  const adminPassword = randomBytes(18).toString('base64url');
  const rootPassword = randomBytes(18).toString('base64url');
  // Read before the temp dir exists, so a docs problem leaves nothing behind.
  const adminLine = documentedAdminLine(adminPassword);
  const dir = mkdtempSync(join(tmpdir(), 'stint-redis-'));
  const aclfile = join(dir, withAclfile ? 'users.acl' : 'redis.conf');
  writeFileSync(
    aclfile,
    [
      'user default off resetkeys resetchannels -@all',
      `user test_root on >${rootPassword} ~* &* +@all`,
      adminLine,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const host = '127.0.0.1';
  let port = 0;
  let child: ChildProcess | undefined;
  const opened: Redis[] = [];

  const launch = async (): Promise<void> => {
    const args = [
      ...(withAclfile ? ['--aclfile', aclfile] : [aclfile]),
      '--port',
      String(port),
      '--bind',
      host,
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--logfile',
      join(dir, 'redis.log'),
      '--daemonize',
      'no',
      ...(opts.args ?? []),
    ];
    const proc = spawn(REDIS_SERVER, args, { stdio: 'ignore' });
    child = proc;
    let exited = false;
    proc.once('exit', () => {
      exited = true;
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (exited) throw new Error(`redis-server exited at start (see ${join(dir, 'redis.log')})`);
      try {
        const c = await connectRedis(host, port, 'test_root', rootPassword);
        await c.ping();
        c.disconnect();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error('redis-server did not answer within 10 s');
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
  };
  // Should the run end before teardown, leave no server behind.
  const onExit = () => child?.kill('SIGKILL');
  process.once('exit', onExit);

  // Another engineer's server may take the probed port between the probe and the start: try another.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (err) {
      await kill();
      if (attempt === 5) {
        process.removeListener('exit', onExit);
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }

  const track = (c: Redis) => {
    opened.push(c);
    return c;
  };
  return {
    host,
    port,
    dir,
    aclfile,
    adminUrl: `redis://stint_admin:${encodeURIComponent(adminPassword)}@${host}:${port}`,
    adminPassword,
    root: async () => track(await connectRedis(host, port, 'test_root', rootPassword)),
    connectAs: async (user, password) => track(await connectRedis(host, port, user, password)),
    async restart() {
      await kill();
      await launch();
    },
    async stop() {
      for (const c of opened) c.disconnect();
      await kill();
      process.removeListener('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
