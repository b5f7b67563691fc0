import { execFile } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { prepareDemo } from '../../src/app/demo.js';
import { loadPolicyFile } from '../../src/policy/policy-loader.js';
import { BUILTIN_KINDS } from '../../src/providers/kinds.js';
import { createKindRegistry } from '../../src/providers/registry.js';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness } from '../support/harness.js';
import { documentedAdminSetup, type MariaDbServer, startMariaDb } from '../support/mariadb-server.js';
import { waitFor } from '../support/pg-client.js';
import { connectRedis, documentedAdminLine } from '../support/redis-server.js';

const run = promisify(execFile);
const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const SCRIPT = repo('scripts/demo-targets.sh');
const EXAMPLE = readFileSync(repo('examples/stint.yaml'), 'utf8');
const mode = (path: string) => statSync(path).mode & 0o777;

const dirs: string[] = [];
/** A temp folder holding a data folder `data` and its key folder `data-keys`, removed after the test. */
const tempBase = () => {
  const d = mkdtempSync(join(tmpdir(), 'stint-demo-targets-'));
  dirs.push(d);
  return { base: d, data: join(d, 'data'), keys: join(d, 'data-keys') };
};
const removeTemp = () => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
};

/** Valid-looking admin URLs: enough for the policy to load and each kind to parse its configuration. */
const SOME_URLS = {
  STINT_DEMO_MARIADB_URL: 'mysql://stint_admin:pw@127.0.0.1:3306/stint_demo',
  STINT_DEMO_REDIS_URL: 'redis://stint_admin:pw@127.0.0.1:6380',
};

describe('the demo policy with the MariaDB and Redis targets', () => {
  afterEach(removeTemp);

  it('is written with demo-mariadb and demo-redis, loads against the real kinds, and each kind takes its settings', () => {
    const { data } = tempBase();
    const env: NodeJS.ProcessEnv = { STINT_DEMO_TARGETS: 'mariadb,redis', ...SOME_URLS };
    const warnings: string[] = [];
    const { policyPath } = prepareDemo(data, env, undefined, undefined, (l) => warnings.push(l));
    expect(warnings).toEqual([]);
    const kinds = createKindRegistry(BUILTIN_KINDS);
    const policy = loadPolicyFile(policyPath, kinds.kinds);
    expect([...policy.resources.keys()]).toEqual(['prod-db', 'demo-mariadb', 'demo-redis']);
    const mariadb = policy.resources.get('demo-mariadb');
    expect(mariadb?.kind).toBe('mariadb');
    expect(mariadb?.sensitivity).toBe('routine');
    expect(mariadb?.connection).toEqual({ env: 'STINT_DEMO_MARIADB_URL' });
    expect(mariadb?.roles.read?.grants).toEqual(['stint_demo_read']);
    expect(mariadb?.roles.admin?.grants).toEqual(['stint_demo_admin']);
    const redis = policy.resources.get('demo-redis');
    expect(redis?.kind).toBe('redis');
    expect(redis?.roles.read?.grants).toEqual(['+@read', '+@connection', '~demo:*']);
    expect(redis?.roles.write?.grants).toEqual(['+@read', '+@write', '+@connection', '~demo:*']);
    expect(policy.rules.map((r) => [r.id, r.approval])).toEqual([
      ['prod-db-read', ['peer']],
      ['prod-db-admin', ['manager']],
      ['demo-mariadb-read', ['peer']],
      ['demo-mariadb-admin', ['manager']],
      ['demo-redis-read', ['peer']],
      ['demo-redis-write', ['manager']],
    ]);
    // Each kind's own configure accepts the URLs (a wrong scheme or a missing user would stop the boot here).
    const resolved = kinds.resolveAll(policy.resources.values(), env);
    expect(resolved.get('demo-mariadb')?.config).toMatchObject({ kind: 'mariadb', database: 'stint_demo' });
    expect(resolved.get('demo-redis')?.config).toMatchObject({ kind: 'redis', port: 6380 });
    // The text is the example's, added to: its comments (the format's documentation) are all still there.
    const text = readFileSync(policyPath, 'utf8');
    for (const line of EXAMPLE.split('\n').filter((l) => l.startsWith('#'))) expect(text).toContain(line);
  });

  it('one target alone adds only its own resource and rules', () => {
    const { data } = tempBase();
    const { policyPath } = prepareDemo(data, { STINT_DEMO_TARGETS: 'redis', ...SOME_URLS }, undefined);
    const policy = loadPolicyFile(policyPath, BUILTIN_KINDS);
    expect([...policy.resources.keys()]).toEqual(['prod-db', 'demo-redis']);
    expect(policy.rules.map((r) => r.id)).toEqual([
      'prod-db-read',
      'prod-db-admin',
      'demo-redis-read',
      'demo-redis-write',
    ]);
  });

  it('without STINT_DEMO_TARGETS the demo is as before: the example policy byte for byte', () => {
    const { data } = tempBase();
    const env: NodeJS.ProcessEnv = {};
    const { policyPath } = prepareDemo(data, env);
    expect(readFileSync(policyPath, 'utf8')).toBe(EXAMPLE);
    expect(env.STINT_DEMO_MARIADB_URL).toBeUndefined();
    expect(env.STINT_DEMO_REDIS_URL).toBeUndefined();
  });

  it('an unknown target is refused before anything is written', () => {
    const { data, keys } = tempBase();
    const env: NodeJS.ProcessEnv = { STINT_DEMO_TARGETS: 'mariadb,mysql' };
    expect(() => prepareDemo(data, env)).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining(
          'STINT_DEMO_TARGETS: unknown demo target "mysql" (known: mariadb, redis)',
        ),
      }),
    );
    expect(existsSync(data)).toBe(false);
    expect(existsSync(keys)).toBe(false);
    expect(env.STINT_ENCRYPTION_KEY_FILE).toBeUndefined();
  });

  it('a target asked for but never prepared is refused, saying how to prepare it; nothing is written', () => {
    const { data, keys } = tempBase();
    expect(() => prepareDemo(data, { STINT_DEMO_TARGETS: 'redis' })).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        message: expect.stringMatching(
          /names redis, but its target is not prepared: .*demo-redis\.url does not exist and STINT_DEMO_REDIS_URL is not set\. Run scripts\/quickstart\.sh --with redis/,
        ),
      }),
    );
    expect(existsSync(data)).toBe(false);
    expect(existsSync(keys)).toBe(false);
  });

  it('reads the admin URLs the preparation kept in the key folder; a variable already set wins', () => {
    const { data, keys } = tempBase();
    prepareDemo(data, {});
    writeFileSync(
      join(keys, 'demo-mariadb.url'),
      'mysql://stint_admin:from-file@127.0.0.1:3306/stint_demo\n',
    );
    writeFileSync(join(keys, 'demo-redis.url'), 'redis://stint_admin:from-file@127.0.0.1:6380\n');
    const env: NodeJS.ProcessEnv = {
      STINT_DEMO_TARGETS: 'mariadb,redis',
      STINT_DEMO_REDIS_URL: 'redis://stint_admin:mine@cache:6379',
    };
    const notes: string[] = [];
    prepareDemo(data, env, undefined, undefined, (l) => notes.push(l));
    expect(notes.join('\n')).toContain('has no demo-mariadb resource');
    expect(env.STINT_DEMO_MARIADB_URL).toBe('mysql://stint_admin:from-file@127.0.0.1:3306/stint_demo');
    expect(env.STINT_DEMO_REDIS_URL).toBe('redis://stint_admin:mine@cache:6379');
  });

  it('a policy already there is kept as it is; what it lacks is printed, ready to paste', () => {
    const { data } = tempBase();
    const { policyPath } = prepareDemo(data, { STINT_DEMO_TARGETS: 'mariadb', ...SOME_URLS });
    const edited = `${readFileSync(policyPath, 'utf8')}# edited by hand\n`;
    writeFileSync(policyPath, edited);

    const warnings: string[] = [];
    prepareDemo(data, { STINT_DEMO_TARGETS: 'mariadb,redis', ...SOME_URLS }, undefined, undefined, (l) =>
      warnings.push(l),
    );
    expect(readFileSync(policyPath, 'utf8')).toBe(edited);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain(`${policyPath} exists and has no demo-redis resource; it is kept as it is`);
    expect(warnings[0]).toContain('examples/demo-targets/redis.yaml');
    expect(warnings[1]).toBe(readFileSync(repo('examples/demo-targets/redis.yaml'), 'utf8').trimEnd());
    // What is printed is what the policy needs: pasted in (as the demo writes it anew), the policy loads.
    const { policyPath: whole } = prepareDemo(tempBase().data, {
      STINT_DEMO_TARGETS: 'mariadb,redis',
      ...SOME_URLS,
    });
    expect(loadPolicyFile(whole, BUILTIN_KINDS).resources.has('demo-redis')).toBe(true);

    // A policy given elsewhere is the one checked; one that has both resources gets no note.
    const elsewhere = join(tempBase().base, 'policy.yaml');
    writeFileSync(elsewhere, readFileSync(whole, 'utf8'));
    const none: string[] = [];
    prepareDemo(data, { STINT_DEMO_TARGETS: 'mariadb,redis', ...SOME_URLS }, elsewhere, undefined, (l) =>
      none.push(l),
    );
    expect(none).toEqual([]);
  });
});

describe('the demo targets are set up exactly as the docs document', () => {
  it("scripts/demo-mariadb.sql makes stint_admin with the docs' block: CREATE OR REPLACE, the demo roles", () => {
    const sql = readFileSync(repo('scripts/demo-mariadb.sql'), 'utf8');
    const marker = '-- stint-admin-setup: mariadb (demo)\n';
    expect(sql).toContain(marker);
    const expected = documentedAdminSetup()
      .replace('-- stint-admin-setup: mariadb\n', '')
      .replace("CREATE USER 'stint_admin'", "CREATE OR REPLACE USER 'stint_admin'")
      .replaceAll('app_admin', 'stint_demo_admin')
      .replaceAll('app_read', 'stint_demo_read');
    expect(sql.slice(sql.indexOf(marker) + marker.length)).toBe(expected);
  });

  it("scripts/demo-redis.acl is the docs' admin line, with the default user off", () => {
    const lines = readFileSync(repo('scripts/demo-redis.acl'), 'utf8').trimEnd().split('\n');
    expect(lines).toEqual([
      'user default off resetkeys resetchannels -@all',
      documentedAdminLine('change-me'),
    ]);
  });
});

/**
 * scripts/quickstart.sh itself, in a copy of the repository whose tools are stand-ins that record how they were
 * called: its node (the server), npm and psql, scripts/node-runtime.sh and scripts/demo-targets.sh. What is
 * checked is the script's own wiring: --with reaching the preparation with the server's data and key folders,
 * STINT_DEMO_TARGETS reaching the server, the other arguments passed on untouched, and no flag meaning no change.
 */
describe('scripts/quickstart.sh --with', () => {
  afterEach(removeTemp);

  const stub = (path: string, body: string) => {
    writeFileSync(path, `#!/usr/bin/env bash\n${body}\n`);
    chmodSync(path, 0o755);
  };
  async function quickstart(
    args: string[],
    env: Record<string, string> = {},
  ): Promise<{ code: number; stderr: string; server: string[] | null; targets: string[] | null }> {
    const { base } = tempBase();
    const root = join(base, 'repo');
    const bin = join(base, 'bin');
    const log = join(base, 'log');
    for (const d of [join(root, 'scripts'), bin, log]) mkdirSync(d, { recursive: true });
    copyFileSync(repo('scripts/quickstart.sh'), join(root, 'scripts/quickstart.sh'));
    chmodSync(join(root, 'scripts/quickstart.sh'), 0o755);
    writeFileSync(
      join(root, 'scripts/node-runtime.sh'),
      'use_supported_node() { :; }\nnode_modules_current() { :; }\ninstall_node_modules() { exit 99; }\n',
    );
    stub(
      join(root, 'scripts/demo-targets.sh'),
      `printf '%s\\n' "$@" >"${log}/targets"\nexit "\${STUB_TARGETS_EXIT:-0}"`,
    );
    stub(
      join(bin, 'node'),
      `{ printf '%s\\n' "$@"; echo "STINT_DEMO_TARGETS=\${STINT_DEMO_TARGETS-unset}"; } >"${log}/server"`,
    );
    stub(join(bin, 'npm'), ':');
    stub(join(bin, 'psql'), ':');
    const read = (name: string) =>
      existsSync(join(log, name)) ? readFileSync(join(log, name), 'utf8').trimEnd().split('\n') : null;
    const { STINT_DEMO_TARGETS: _t, STINT_DATA_DIR: _d, STINT_KEY_DIR: _k, ...outer } = process.env;
    try {
      const { stderr } = await run(join(root, 'scripts/quickstart.sh'), args, {
        env: { ...outer, PATH: `${bin}:/usr/bin:/bin`, ...env },
      });
      return { code: 0, stderr, server: read('server'), targets: read('targets') };
    } catch (err) {
      const e = err as { code?: number; stderr?: string };
      return { code: e.code ?? -1, stderr: e.stderr ?? '', server: read('server'), targets: read('targets') };
    }
  }
  const SERVER = ['dist/cli/main.js', 'server', '--demo'];

  it('without --with: no preparation, the server started exactly as before', async () => {
    const r = await quickstart(['--port', '7071']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.targets).toBeNull();
    expect(r.server).toEqual([...SERVER, '--port', '7071', 'STINT_DEMO_TARGETS=unset']);
  });

  it('--with prepares the targets in the data and key folders the server uses, and tells the server', async () => {
    const r = await quickstart([
      '--data-dir',
      'elsewhere',
      '--with',
      'mariadb,redis',
      '--key-dir=k',
      '--port',
      '1',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.targets).toEqual(['--data-dir', 'elsewhere', '--key-dir', 'k', 'mariadb,redis']);
    expect(r.server).toEqual([
      ...SERVER,
      '--data-dir',
      'elsewhere',
      '--key-dir=k',
      '--port',
      '1',
      'STINT_DEMO_TARGETS=mariadb,redis',
    ]);

    const fromEnv = await quickstart([], { STINT_DEMO_TARGETS: 'redis', STINT_DATA_DIR: 'd' });
    expect(fromEnv.targets).toEqual(['--data-dir', 'd', 'redis']);
    expect(fromEnv.server).toEqual([...SERVER, 'STINT_DEMO_TARGETS=redis']);
  });

  it('a target that could not be prepared is warned about and the server still starts; bad arguments stop it', async () => {
    const failed = await quickstart(['--with=mariadb'], { STUB_TARGETS_EXIT: '1' });
    expect(failed.code).toBe(0);
    expect(failed.stderr).toContain('warning: could not prepare every demo target');
    expect(failed.server).toEqual([...SERVER, 'STINT_DEMO_TARGETS=mariadb']);

    const bad = await quickstart(['--with=mysql'], { STUB_TARGETS_EXIT: '2' });
    expect(bad.code).toBe(2);
    expect(bad.server).toBeNull();
  });
});

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

/** The script's exit status and what it said; never throws on a non-zero exit. */
async function prepareTargets(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run(SCRIPT, args, { env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stderr: e.stderr ?? String(err) };
  }
}

/**
 * The quick start's preparation run for real, then the demo served by the real application: requests on
 * demo-mariadb and demo-redis approved, issued (a real login with what was issued) and revoked. MariaDB is this
 * file's own mariadbd (test/support/mariadb-server.ts) reached through a client command the script is told to use,
 * never the machine's 3306; Redis is the redis-server the script itself starts, on a free port in a temp folder,
 * never the machine's 6379. (A quick start run needs the machine's MariaDB root by socket, which a test cannot
 * borrow without changing a shared service: STINT_DEMO_MARIADB_CLIENT is the one seam.)
 */
describe('the quick start preparing MariaDB and Redis, then the demo served on them', () => {
  let mariadb: MariaDbServer;
  let root: mysql.Connection;
  let h: Harness | undefined;
  let redisPort: number;
  // Its own folder, not tempBase's: those are removed after each test of the describe blocks above.
  const base = mkdtempSync(join(tmpdir(), 'stint-demo-targets-'));
  const data = join(base, 'data');
  const keys = join(base, 'data-keys');
  const redisDir = join(data, 'demo-redis');
  let scriptEnv: Record<string, string>;
  let first: { code: number; stderr: string };
  let refused: { code: number; stderr: string };
  let theirsStillWorks: boolean;
  /** SHOW GRANTS lists a column grant's columns in no set order: compared as a set. */
  const sortedColumns = (grant: string) =>
    grant.replace(
      /^GRANT SELECT \(([^)]*)\)/,
      (_, cols: string) => `GRANT SELECT (${cols.split(', ').sort().join(', ')})`,
    );
  /** Every column of mysql.user the docs grant (MariaDB shows them as one grant): never a password hash. */
  const USER_COLUMNS = [
    ...new Set(
      [
        ...documentedAdminSetup()
          .replace(/\s+/g, ' ')
          .matchAll(/GRANT SELECT \(([^)]*)\) ON mysql\.user/g),
      ].flatMap((m) => (m[1] ?? '').split(', ')),
    ),
  ]
    .map((c) => `\`${c}\``)
    .sort()
    .join(', ');
  const DEMO_ADMIN_GRANTS = [
    'GRANT `stint_demo_admin` TO `stint_admin`@`%` WITH ADMIN OPTION',
    'GRANT `stint_demo_read` TO `stint_admin`@`%` WITH ADMIN OPTION',
    'GRANT PROCESS, CREATE USER, CONNECTION ADMIN ON *.* TO `stint_admin`@`%`',
    'GRANT EVENT ON `stint_meta`.* TO `stint_admin`@`%`',
    'GRANT SELECT, INSERT, DELETE ON `stint_meta`.`principals` TO `stint_admin`@`%`',
    `GRANT SELECT (${USER_COLUMNS}) ON \`mysql\`.\`user\` TO \`stint_admin\`@\`%\``,
    'GRANT SELECT ON `mysql`.`db` TO `stint_admin`@`%`',
    'GRANT SELECT ON `mysql`.`roles_mapping` TO `stint_admin`@`%`',
  ].sort();
  const adminGrants = async () => {
    const [grants] = await root.query<mysql.RowDataPacket[]>("SHOW GRANTS FOR 'stint_admin'@'%'");
    return grants
      .map((g) => String(Object.values(g)[0]).replace(/ IDENTIFIED BY PASSWORD '[^']*'/, ''))
      .map(sortedColumns)
      .sort();
  };
  const env: NodeJS.ProcessEnv = { STINT_DEMO_TARGETS: 'mariadb,redis' };

  beforeAll(async () => {
    mariadb = await startMariaDb();
    root = await mariadb.root();
    // The script's way in as the server's root: over TCP, since this server's root has a socket of its own.
    await root.query(
      "CREATE USER demo_root@'127.0.0.1' IDENTIFIED BY 'demo-root-pw'; " +
        "GRANT ALL PRIVILEGES ON *.* TO demo_root@'127.0.0.1' WITH GRANT OPTION",
    );
    const cnf = join(base, 'root.cnf');
    writeFileSync(
      cnf,
      `[client]\nprotocol=tcp\nhost=127.0.0.1\nport=${mariadb.port}\nuser=demo_root\npassword=demo-root-pw\n`,
      { mode: 0o600 },
    );
    redisPort = await freePort();
    scriptEnv = {
      STINT_DEMO_MARIADB_CLIENT: `mariadb --defaults-extra-file=${cnf}`,
      STINT_DEMO_MARIADB_PORT: String(mariadb.port),
      STINT_DEMO_REDIS_PORT: String(redisPort),
    };
    // This server already has a stint_admin (the provider tests' own, made by the docs' block): not the demo's.
    refused = await prepareTargets(['--data-dir', data, 'mariadb'], scriptEnv);
    const theirs = new URL(mariadb.stintAdminUrl);
    // No database named: stint_admin may not select one.
    theirsStillWorks = await mysql
      .createConnection({
        host: theirs.hostname,
        port: Number(theirs.port),
        user: 'stint_admin',
        password: decodeURIComponent(theirs.password),
        connectTimeout: 3_000,
      })
      .then(async (c) => {
        await c.end();
        return true;
      })
      .catch(() => false);
    await root.query("DROP USER 'stint_admin'@'%'");
    first = await prepareTargets(['--data-dir', data, 'mariadb,redis'], scriptEnv);
  });

  afterAll(async () => {
    await h?.close();
    // The script's redis-server is a daemon, not a child of this process: ended by its pidfile.
    const pidfile = join(redisDir, 'redis.pid');
    if (existsSync(pidfile)) {
      const pid = Number(readFileSync(pidfile, 'utf8').trim());
      try {
        process.kill(pid, 'SIGTERM');
        await waitFor(async () => {
          try {
            process.kill(pid, 0);
            return null;
          } catch {
            return true;
          }
        }, 10_000);
      } catch {
        // already gone
      }
    }
    await root?.end();
    await mariadb?.stop();
    rmSync(base, { recursive: true, force: true });
    removeTemp();
  });

  it("never replaces a stint_admin it did not make: a real deployment's on the same server keeps working", () => {
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'mariadb: a stint_admin account exists on this server that this data folder did not make',
    );
    expect(refused.stderr).toContain(
      "A leftover demo's? Drop it (DROP USER 'stint_admin'@'%') and run again",
    );
    expect(theirsStillWorks).toBe(true);
  });

  it('prepares both: the URLs in the key folder (0600), stint_admin with exactly the documented rights', async () => {
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(`mariadb: stint_demo, its two roles and stint_admin are ready`);
    expect(first.stderr).toContain(`redis: started the demo's redis-server on 127.0.0.1:${redisPort}`);
    for (const file of ['demo-mariadb.url', 'demo-redis.url']) expect(mode(join(keys, file))).toBe(0o600);
    expect(mode(keys)).toBe(0o700);
    const mariadbUrl = readFileSync(join(keys, 'demo-mariadb.url'), 'utf8').trim();
    expect(mariadbUrl).toMatch(
      new RegExp(`^mysql://stint_admin:[0-9a-f]{48}@127\\.0\\.0\\.1:${mariadb.port}/stint_demo$`),
    );
    expect(readFileSync(join(keys, 'demo-redis.url'), 'utf8').trim()).toMatch(
      new RegExp(`^redis://stint_admin:[0-9a-f]{48}@127\\.0\\.0\\.1:${redisPort}$`),
    );

    expect(await adminGrants()).toEqual(DEMO_ADMIN_GRANTS);
    const password = new URL(mariadbUrl).password;
    const admin = await mysql.createConnection({
      host: '127.0.0.1',
      port: mariadb.port,
      user: 'stint_admin',
      password,
    });
    await admin.end();

    // The demo's Redis: aclfile and data in the data folder, nobody in without a password.
    expect(readFileSync(join(redisDir, 'users.acl'), 'utf8')).toMatch(/^user default off /m);
    expect(readFileSync(join(redisDir, 'users.acl'), 'utf8')).not.toContain(
      new URL(readFileSync(join(keys, 'demo-redis.url'), 'utf8').trim()).password,
    );
    const anon = await connectRedis('127.0.0.1', redisPort, '', '');
    await expect(anon.get('demo:greeting')).rejects.toThrow(/NOAUTH/);
    anon.disconnect();
    await expect(connectRedis('127.0.0.1', redisPort, 'default', 'anything')).rejects.toThrow(
      /WRONGPASS|disabled/,
    );
  });

  it('run again, converges: the same passwords, the same running redis-server, the documented rights', async () => {
    // A hand edit since: the run takes stint_admin back to exactly the documented rights.
    await root.query("GRANT app_read TO 'stint_admin'@'%' WITH ADMIN OPTION");
    expect(await adminGrants()).not.toEqual(DEMO_ADMIN_GRANTS);
    const before = ['demo-mariadb.url', 'demo-redis.url'].map((f) => readFileSync(join(keys, f), 'utf8'));
    const pid = readFileSync(join(redisDir, 'redis.pid'), 'utf8');
    const again = await prepareTargets(['--data-dir', data, 'mariadb', 'redis'], scriptEnv);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`redis: the demo's redis-server is running on 127.0.0.1:${redisPort}`);
    expect(['demo-mariadb.url', 'demo-redis.url'].map((f) => readFileSync(join(keys, f), 'utf8'))).toEqual(
      before,
    );
    expect(readFileSync(join(redisDir, 'redis.pid'), 'utf8')).toBe(pid);
    expect(await adminGrants()).toEqual(DEMO_ADMIN_GRANTS);
  });

  it('bad arguments change nothing; a target it cannot prepare is said and fails the run', async () => {
    const other = tempBase();
    const bad = await prepareTargets(['--data-dir', other.data, 'mariadb,mysql'], scriptEnv);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown demo target 'mysql' (known: mariadb, redis)");
    expect(existsSync(other.data)).toBe(false);
    expect(existsSync(other.keys)).toBe(false);

    const refused = await prepareTargets(['--data-dir', other.data, 'mariadb'], {
      ...scriptEnv,
      STINT_DEMO_MARIADB_CLIENT: 'false',
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("mariadb: cannot read mysql.user as the server's root");
    // The URL stays, so the server still starts, and the next run sets this same password.
    expect(readFileSync(join(other.keys, 'demo-mariadb.url'), 'utf8')).toMatch(/^mysql:\/\/stint_admin:/);
  });

  describe('served by Stint', () => {
    beforeAll(async () => {
      const { policyPath } = prepareDemo(data, env, undefined, keys);
      h = await createHarness('sqlite', {
        policy: readFileSync(policyPath, 'utf8'),
        // Nobody has a second factor, as in the quick start: approving these routine targets needs none.
        stepUp: false,
        env: {
          STINT_DEMO_DB_URL: inject('pgCluster').stintAdminUrl,
          STINT_DEMO_MARIADB_URL: env.STINT_DEMO_MARIADB_URL ?? '',
          STINT_DEMO_REDIS_URL: env.STINT_DEMO_REDIS_URL ?? '',
        },
      });
    });

    it('the demo took the admin URLs the preparation made', () => {
      expect(env.STINT_DEMO_MARIADB_URL).toBe(readFileSync(join(keys, 'demo-mariadb.url'), 'utf8').trim());
      expect(env.STINT_DEMO_REDIS_URL).toBe(readFileSync(join(keys, 'demo-redis.url'), 'utf8').trim());
    });

    it('demo-redis read: a teammate approves, the user reads the demo data and cannot write; revoke ends it', async () => {
      const grant = await activeGrant(h as Harness, {
        resource: 'demo-redis',
        role: 'read',
        reason: 'INC-22',
        approvers: ['bob'],
        take: true,
      });
      expect(grant.created.waitingFor).toEqual([
        { tier: 'peer', label: expect.any(String), eligible: ['bob'] },
      ]);
      const { secret } = grant.credential;
      const session: Redis = await connectRedis(
        secret.host,
        Number(secret.port),
        secret.username,
        secret.password,
      );
      const ended = new Promise((resolve) => session.once('end', resolve));
      expect(await session.hget('demo:account:1', 'owner')).toBe('alice');
      expect(await session.get('demo:greeting')).toBe('hello from the demo Redis');
      await expect(session.set('demo:greeting', 'changed')).rejects.toThrow(/NOPERM/);

      const revoked = await (h as Harness)
        .as('alice')
        .post(`/v1/requests/${grant.id}/revoke`, { comment: 'done' });
      expect(revoked.status).toBe(200);
      expect(revoked.body.revocation).toBe('done');
      await ended;
      await expect(
        connectRedis(secret.host, Number(secret.port), secret.username, secret.password),
      ).rejects.toThrow(/WRONGPASS/);
    });

    it('demo-mariadb read then admin: approved, real logins with the demo roles, revoke kills the session', async () => {
      const read = await activeGrant(h as Harness, {
        resource: 'demo-mariadb',
        role: 'read',
        reason: 'INC-22',
        approvers: ['bob'],
        take: true,
      });
      const session = await mysql.createConnection({
        uri: read.credential.secret.url,
        connectTimeout: 3_000,
      });
      // A session the server killed emits 'error' once idle; the next statement reports it.
      (session as unknown as { connection: { on(e: string, f: () => void): void } }).connection.on(
        'error',
        () => {},
      );
      const [rows] = await session.query<mysql.RowDataPacket[]>('SELECT owner FROM accounts WHERE id = 1');
      expect(rows[0]?.owner).toBe('alice');
      await expect(session.query("INSERT INTO accounts VALUES (99, 'x', 0)")).rejects.toThrow(/denied/);

      const revoked = await (h as Harness)
        .as('alice')
        .post(`/v1/requests/${read.id}/revoke`, { comment: 'done' });
      expect(revoked.body.revocation).toBe('done');
      await expect(session.query('SELECT 1')).rejects.toThrow();
      await expect(
        mysql.createConnection({ uri: read.credential.secret.url, connectTimeout: 3_000 }),
      ).rejects.toThrow(/Access denied/);

      // The admin role: the manager approves; it may write stint_demo, and nothing outside it.
      const admin = await activeGrant(h as Harness, {
        resource: 'demo-mariadb',
        role: 'admin',
        reason: 'CHG-7',
        approvers: ['carol'],
        take: true,
      });
      const writer = await mysql.createConnection({
        uri: admin.credential.secret.url,
        connectTimeout: 3_000,
      });
      await writer.query("INSERT INTO accounts VALUES (100, 'from-stint', 1)");
      await expect(writer.query('SELECT * FROM stint_meta.principals')).rejects.toThrow(/denied/);
      await writer.end();
      const done = await (h as Harness)
        .as('alice')
        .post(`/v1/requests/${admin.id}/revoke`, { comment: 'done' });
      expect(done.body.revocation).toBe('done');
      const [left] = await root.query<mysql.RowDataPacket[]>(
        'SELECT User FROM mysql.user WHERE User IN (?, ?)',
        [read.credential.principal, admin.credential.principal],
      );
      expect(read.credential.principal).toMatch(/^stint_/);
      expect(left).toEqual([]);
    });
  });
});
