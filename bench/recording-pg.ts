import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { keptAad } from '../src/grants/issuer.js';
import { createProvider } from '../src/providers/registry.js';
import { loadProxyTls } from '../src/recording/pg-proxy/proxy-tls.js';
import { createRecordingModule } from '../src/recording/recording-module.js';
import { DEFAULT_SEGMENT_LIMITS } from '../src/recording/segments.js';
import { type PgClusterInfo, startPgCluster } from '../test/support/pg-cluster.js';
import { buildBenchApp, expectStatus, untilActive } from './app.js';

const run = promisify(execFile);
const ENV = 'STINT_BENCH_PG_PROXY_URL';

export interface PgProxyModeFigures {
  /** pgbench's `tps` (without initial connection time), straight to the target as the grant's role, over TLS. */
  directTps: number;
  /** The same through Stint's PostgreSQL proxy (TLS + SCRAM towards pgbench, every statement logged). */
  proxyTps: number;
  /** proxy / direct, in the same run: the headline figure. */
  ratio: number;
  /** Straight to the target without TLS (for reference: what TLS itself costs on this machine). */
  directPlainTps: number;
  /**
   * Through a bare TCP relay in the same process (no TLS, no parsing, no log), against direct without TLS: the
   * ceiling of any proxy hop in this process on this machine, for reading the proxy's own ratio against.
   */
  relayRatio: number;
}

export interface PgProxyFigures {
  clients: number;
  seconds: number;
  /** pgbench's built-in select-only script (-S) at scale 1: the proxy's cost per statement, at its largest. */
  script: string;
  simple: PgProxyModeFigures;
  extended: PgProxyModeFigures;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function policy(proxyPort: number): string {
  return `
version: 1
settings: { deployment: bench-pgproxy-${randomBytes(4).toString('hex')}, hardCap: 4h }
users:
  - { id: alice, email: alice@example.com, name: Alice, teams: [payments] }
resources:
  - id: bench-proxied
    kind: postgres
    sensitivity: routine
    connection: { env: ${ENV} }
    options:
      proxy: { host: 127.0.0.1, port: ${proxyPort} }
    roles:
      admin: { grants: [app_admin] }
rules:
  - id: bench
    resources: [bench-proxied]
    roles: [admin]
    who: { teams: [payments] }
    duration: { default: 1h, max: 4h }
    ticket: { required: false, patterns: [] }
    approval: [auto]
`;
}

async function pgbench(
  args: string[],
  conn: { port: number; user: string; password: string; database: string; sslmode: string },
): Promise<number> {
  const { stdout } = await run('pgbench', args, {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      PGHOST: '127.0.0.1',
      PGPORT: String(conn.port),
      PGUSER: conn.user,
      PGPASSWORD: conn.password,
      PGDATABASE: conn.database,
      PGSSLMODE: conn.sslmode,
    },
    timeout: 300_000,
  });
  const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
  if (!m?.[1]) throw new Error(`pgbench printed no tps: ${stdout}`);
  return Number(m[1]);
}

/**
 * pgbench through Stint's PostgreSQL proxy against the same target straight, in the same run: simple and extended
 * protocol, the select-only script (the proxy's cost per statement at its largest share), the same role and
 * database both ways. Direct is plain TCP (the test cluster has no TLS); through the proxy pgbench speaks TLS.
 */
export async function measurePgProxy(
  cluster: Pick<PgClusterInfo, 'superuserUrl' | 'stintAdminUrl'>,
  opts: { clients?: number; seconds?: number } = {},
): Promise<PgProxyFigures> {
  const clients = opts.clients ?? 4;
  const seconds = opts.seconds ?? 10;
  const database = `bench_proxy_${randomBytes(4).toString('hex')}`;
  const superuser = new URL(cluster.superuserUrl);
  const root = new pg.Client({ connectionString: cluster.superuserUrl });
  await root.connect();
  await root.query(`CREATE DATABASE ${database}`);
  await root.end();
  const dir = mkdtempSync(join(tmpdir(), 'stint-bench-pgproxy-'));
  const proxyPort = await freePort();
  const env = { [ENV]: cluster.stintAdminUrl };
  const bench = await buildBenchApp(
    'sqlite',
    () => (resource, owner) => createProvider(resource, env, { owner }),
    {
      policy: policy(proxyPort),
    },
  );
  const rec = createRecordingModule({
    ...bench.stint.deps,
    storeId: bench.options.storeId,
    config: {
      storage: 'local',
      dir: join(dir, 'recordings'),
      sshProxy: null,
      pgProxy: {
        host: '127.0.0.1',
        port: proxyPort,
        certFile: join(dir, 'cert.pem'),
        keyFile: join(dir, 'key.pem'),
        pollMs: 250,
      },
      segments: DEFAULT_SEGMENT_LIMITS,
      sampling: { rate: 0.05, incidentPattern: null, dueDays: 7 },
    },
  });
  const restoreTls = await targetTls(cluster.superuserUrl, dir);
  const relay = await bareRelay(Number(superuser.port));
  try {
    for (const job of rec.module.jobs ?? []) await job.start();
    const init = {
      port: Number(superuser.port),
      user: 'postgres',
      password: decodeURIComponent(superuser.password),
    };
    await run('pgbench', ['-i', '-q', '-s', '1'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        PGHOST: '127.0.0.1',
        PGPORT: String(init.port),
        PGUSER: init.user,
        PGPASSWORD: init.password,
        PGDATABASE: database,
      },
    });
    const grantsTo = new pg.Client({
      connectionString: cluster.superuserUrl.replace(/\/postgres$/, `/${database}`),
    });
    await grantsTo.connect();
    await grantsTo.query('GRANT ALL ON ALL TABLES IN SCHEMA public TO app_admin');
    await grantsTo.end();

    const created = await bench.post('alice', '/v1/requests', {
      resource: 'bench-proxied',
      role: 'admin',
      reason: 'bench',
    });
    expectStatus(created, 201, 'create');
    await untilActive(bench, 'alice', created);
    const id = created.body.id as string;
    const taken = await bench.post('alice', `/v1/requests/${id}/credentials`);
    expectStatus(taken, 200, 'take');
    const row = await bench.stint.deps.store.db
      .selectFrom('grants')
      .select('kept_enc')
      .where('request_id', '=', id)
      .executeTakeFirstOrThrow();
    const real = JSON.parse(bench.stint.deps.secrets.open(row.kept_enc as string, keptAad(id))).password;
    const role = taken.body.principal as string;
    const direct = { port: Number(superuser.port), user: role, password: real, database, sslmode: 'require' };
    const proxied = {
      port: proxyPort,
      user: role,
      password: taken.body.secret.password,
      database,
      sslmode: 'require',
    };

    const mode = async (m: 'simple' | 'extended'): Promise<PgProxyModeFigures> => {
      const args = [
        '-n',
        '-S',
        '-M',
        m,
        '-c',
        String(clients),
        '-j',
        String(Math.min(clients, 2)),
        '-T',
        String(seconds),
      ];
      const directTps = await pgbench(args, direct);
      const proxyTps = await pgbench(args, proxied);
      const directPlainTps = await pgbench(args, { ...direct, sslmode: 'disable' });
      const relayTps = await pgbench(args, { ...direct, port: relay.port, sslmode: 'disable' });
      return {
        directTps,
        proxyTps,
        ratio: Math.round((proxyTps / directTps) * 1000) / 1000,
        directPlainTps,
        relayRatio: Math.round((relayTps / directPlainTps) * 1000) / 1000,
      };
    };
    return {
      clients,
      seconds,
      script: 'select-only (-S), scale 1',
      simple: await mode('simple'),
      extended: await mode('extended'),
    };
  } finally {
    for (const job of [...(rec.module.jobs ?? [])].reverse()) await job.stop();
    await bench.close();
    await restoreTls();
    await relay.close();
    rmSync(dir, { recursive: true, force: true });
    const drop = new pg.Client({ connectionString: cluster.superuserUrl });
    await drop.connect();
    await drop.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
    await drop.end();
  }
}

/**
 * TLS on the target for the run, so "direct" is what a user's own connection would be (TLS too): a self-signed pair
 * the server's account can read, `ssl = on` by ALTER SYSTEM and a reload; the returned function puts it back.
 */
async function targetTls(superuserUrl: string, dir: string): Promise<() => Promise<void>> {
  const tlsDir = join(dir, 'target-tls');
  mkdirSync(tlsDir);
  const cert = join(tlsDir, 'server.crt');
  const key = join(tlsDir, 'server.key');
  await loadProxyTls(cert, key, ['127.0.0.1']);
  const owner = serverAccount();
  if (owner) for (const p of [dir, tlsDir, cert, key]) chownSync(p, owner.uid, owner.gid);
  const sql = async (statements: string[]) => {
    const c = new pg.Client({ connectionString: superuserUrl });
    await c.connect();
    try {
      for (const s of statements) await c.query(s);
    } finally {
      await c.end();
    }
  };
  await sql([
    `ALTER SYSTEM SET ssl_cert_file = ${pg.escapeLiteral(cert)}`,
    `ALTER SYSTEM SET ssl_key_file = ${pg.escapeLiteral(key)}`,
    'ALTER SYSTEM SET ssl = on',
    'SELECT pg_reload_conf()',
  ]);
  return () =>
    sql([
      'ALTER SYSTEM RESET ssl',
      'ALTER SYSTEM RESET ssl_cert_file',
      'ALTER SYSTEM RESET ssl_key_file',
      'SELECT pg_reload_conf()',
    ]);
}

/** The cluster runs as `postgres` when we are root (test/support/pg-cluster.ts): its key must be that account's. */
function serverAccount(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  return uid && gid ? { uid: Number(uid), gid: Number(gid) } : null;
}

/** A TCP relay that only copies bytes: the hop alone. */
async function bareRelay(targetPort: number): Promise<{ port: number; close(): Promise<void> }> {
  const open = new Set<Socket>();
  const server = createServer((inbound) => {
    inbound.setNoDelay(true);
    const out = connect({ host: '127.0.0.1', port: targetPort, noDelay: true });
    for (const s of [inbound, out]) {
      open.add(s);
      s.on('error', () => {});
      s.once('close', () => {
        inbound.destroy();
        out.destroy();
        open.delete(s);
      });
    }
    inbound.pipe(out).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const a = server.address();
  return {
    port: typeof a === 'object' && a ? a.port : 0,
    close: () => {
      for (const s of open) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The figures as `npm run bench` prints them. */
export function renderPgProxy(f: PgProxyFigures): string {
  const line = (name: string, m: PgProxyModeFigures) =>
    `  ${name.padEnd(9)} direct ${m.directTps.toFixed(0).padStart(7)} tps   proxy ${m.proxyTps.toFixed(0).padStart(7)} tps   ratio ${m.ratio.toFixed(2)}× (aim ≥ 0.80×)   [direct without TLS ${m.directPlainTps.toFixed(0)} tps; a bare relay's ratio ${m.relayRatio.toFixed(2)}×]`;
  return [
    `PostgreSQL proxy: pgbench ${f.script}, ${f.clients} clients, ${f.seconds} s per run, TLS both ways`,
    line('simple', f.simple),
    line('extended', f.extended),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const cluster = await startPgCluster();
  try {
    console.log(renderPgProxy(await measurePgProxy(cluster)));
  } finally {
    await cluster.stop();
  }
}
