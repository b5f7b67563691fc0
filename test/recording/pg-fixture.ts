import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { listAudit } from '../../src/audit/audit-store.js';
import { keptAad } from '../../src/grants/issuer.js';
import type { StatementEntry } from '../../src/recording/pg-proxy/statement-log.js';
import { createRecordingModule, type RecordingModule } from '../../src/recording/recording-module.js';
import { recordingStore } from '../../src/recording/recording-store.js';
import { recordingDb } from '../../src/recording/recording-tables.js';
import { DEFAULT_SEGMENT_LIMITS } from '../../src/recording/segments.js';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness } from '../support/harness.js';
import { waitFor } from '../support/pg-client.js';
import type { PgClusterInfo } from '../support/pg-cluster.js';
import type { StoreKind } from '../support/stores.js';

/**
 * The real application (harness) with PostgreSQL resources on the test's scram cluster that send sessions through
 * the proxy, and the recording module with its PostgreSQL proxy built from the application's own parts, as
 * createStint builds it. Users connect with real `psql`, `pgbench` and `pg` clients with what the take gave them.
 */
export interface PgProxyFixture {
  h: Harness;
  rec: RecordingModule;
  cluster: PgClusterInfo;
  /** The fixture's own folder (local statement logs go to `<dir>/recordings`). */
  dir: string;
  proxyPort: number;
  /** Connections opened so far to the target of `appdb-counted` (its admin connection goes through a relay too). */
  upstreamConnections(): number;
  grant(opts?: { resource?: string; requester?: string; duration?: string }): Promise<PgGranted>;
  /** A `pg` client through the proxy (TLS, not verified: the tests pin nothing). */
  connect(g: PgGranted, database?: string): Promise<pg.Client>;
  /** The real role password Stint keeps for the grant (read from the store as the proxy reads it). */
  keptPassword(requestId: string): Promise<string | null>;
  /** The statement log of the request's sessions, once they have ended: header line and entries. */
  statementLog(requestId: string): Promise<{ recordingId: string; text: string; entries: StatementEntry[] }>;
  events(requestId: string): Promise<{ action: string; details: Record<string, unknown> }[]>;
  close(): Promise<void>;
}

export interface PgGranted {
  requestId: string;
  principal: string;
  /** What the take answered (`secret.url`, `secret.password`: the proxy secret). */
  taken: { secret: Record<string, string> };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A TCP relay to the cluster that counts the connections made through it: what reached the target, and when. */
async function countingRelay(host: string, port: number) {
  let count = 0;
  const open = new Set<Socket>();
  const server = createServer((inbound) => {
    count++;
    const out = connect({ host, port });
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
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    count: () => count,
    close: () => {
      for (const s of open) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function pgPolicy(proxyPort: number): string {
  const resource = (id: string, proxy: string) => `  - id: ${id}
    kind: postgres
    sensitivity: routine
    connection: { env: STINT_PG_ADMIN }
    options:
      proxy: { host: 127.0.0.1, port: ${proxyPort}${proxy} }
    roles:
      rw: { grants: [app_admin] }
`;
  return `version: 1
settings: { deployment: pg-rec-test, hardCap: 4h }
users:
  - { id: alice, email: alice@example.com, name: Alice, manager: carol, teams: [crew] }
  - { id: carol, email: carol@example.com, name: Carol, teams: [leads] }
  - { id: sam, email: sam@example.com, name: Sam, teams: [security], security: true }
  - { id: erin, email: erin@example.com, name: Erin, teams: [audit], auditor: true }
resources:
${resource('appdb', '')}${resource('appdb-open', ', redactParameters: false')}${resource('appdb-counted', '').replace('STINT_PG_ADMIN', 'STINT_PG_COUNTED')}${resource('appdb-lenient', ', onRecordingFailure: continue')}rules:
  - id: crew
    resources: [appdb, appdb-open, appdb-counted, appdb-lenient]
    roles: ['*']
    who: { teams: [crew] }
    duration: { min: 1s, default: 10m, max: 1h }
    ticket: { required: false }
    approval: [auto]
`;
}

export interface PgFixtureOptions {
  store?: StoreKind;
  /** Serve the store of another fixture's harness (HA): same policy, proxy port and sealing key. */
  beside?: PgProxyFixture;
  /** This fixture's own proxy (false: the application only, e.g. the server that revokes in an HA test). */
  withProxy?: boolean;
  /** Where statement logs go: `store` (default) or `local` (`<dir>/recordings`). */
  storage?: 'local' | 'store';
}

export async function startPgFixture(
  cluster: PgClusterInfo,
  opts: PgFixtureOptions = {},
): Promise<PgProxyFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'stint-pgrec-'));
  const proxyPort = opts.beside?.proxyPort ?? (await freePort());
  const counted = await countingRelay(cluster.host, cluster.port);
  const countedUrl = new URL(cluster.stintAdminUrl);
  countedUrl.port = String(counted.port);
  const other = opts.beside?.h;
  const h = await createHarness(opts.store ?? 'sqlite', {
    policy: pgPolicy(proxyPort),
    env: { STINT_PG_ADMIN: cluster.stintAdminUrl, STINT_PG_COUNTED: countedUrl.href },
    ...(other
      ? {
          beside: other.testStore,
          deployment: other.deployment,
          stepUp: false,
          secrets: other.stint.deps.secrets,
          auditSigner: other.auditSigner,
          checkpointDir: other.checkpointDir,
        }
      : {}),
  });
  const rec = createRecordingModule({
    ...h.stint.deps,
    storeId: h.storeId,
    config: {
      storage: opts.storage ?? 'store',
      dir: join(dir, 'recordings'),
      sshProxy: null,
      pgProxy: {
        host: '127.0.0.1',
        port: proxyPort,
        certFile: join(dir, 'pg-proxy-cert.pem'),
        keyFile: join(dir, 'pg-proxy-key.pem'),
        pollMs: 100,
      },
      segments: DEFAULT_SEGMENT_LIMITS,
      sampling: { rate: 1, incidentPattern: null, dueDays: 7 },
    },
  });
  if (opts.withProxy !== false) for (const job of rec.module.jobs ?? []) await job.start();
  const db = () => recordingDb(h.stint.deps.store.db);

  return {
    h,
    rec,
    cluster,
    dir,
    proxyPort,
    upstreamConnections: () => counted.count(),
    async grant(g = {}) {
      const r = await activeGrant(h, {
        resource: g.resource ?? 'appdb',
        role: 'rw',
        ...(g.requester ? { requester: g.requester } : {}),
        ...(g.duration ? { duration: g.duration } : {}),
        take: true,
      });
      return { requestId: r.id, principal: r.credential.principal, taken: r.credential };
    },
    async connect(g, database) {
      const client = new pg.Client({
        host: '127.0.0.1',
        port: proxyPort,
        user: g.principal,
        password: g.taken.secret.password,
        database: database ?? 'app',
        ssl: { rejectUnauthorized: false },
        connectionTimeoutMillis: 10_000,
      });
      client.on('error', () => {});
      await client.connect();
      return client;
    },
    async keptPassword(requestId) {
      const row = await h.stint.deps.store.db
        .selectFrom('grants')
        .select('kept_enc')
        .where('request_id', '=', requestId)
        .executeTakeFirst();
      if (!row?.kept_enc) return null;
      return JSON.parse(h.stint.deps.secrets.open(row.kept_enc, keptAad(requestId))).password as string;
    },
    async statementLog(requestId) {
      const sessions = await waitFor(async () => {
        const all = await recordingStore.listSessions(db(), { requestId, limit: 100 });
        return all.length > 0 && all.every((s) => s.ended_at !== null) ? all : null;
      });
      const recordings = (
        await Promise.all(sessions.map((s) => recordingStore.recordingsOf(db(), s.id)))
      ).flat();
      // Each recording as the route serves it: checked against its segments' hashes in the audit trail.
      const logs: { recordingId: string; text: string; entries: StatementEntry[] }[] = [];
      for (const r of recordings) {
        const res = await h.app.inject({
          method: 'GET',
          url: `/v1/recordings/${r.id}/cast`,
          headers: { authorization: `Bearer ${h.tokens.erin}` },
        });
        if (res.statusCode !== 200) throw new Error(`cast: ${res.statusCode} ${res.body}`);
        if (!String(res.headers['content-type']).startsWith('application/x-ndjson'))
          throw new Error(`a statement log served as ${res.headers['content-type']}`);
        const lines = res.body
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        logs.push({ recordingId: r.id, text: res.body, entries: lines.slice(1) });
      }
      return {
        recordingId: logs[0]?.recordingId as string,
        text: logs[0]?.text as string,
        entries: logs.flatMap((l) => l.entries),
      };
    },
    async events(requestId) {
      const events = await listAudit(h.stint.deps.store.db, { requestId, limit: 10_000 });
      return events.map((e) => ({ action: e.action, details: e.details }));
    },
    async close() {
      for (const job of [...(rec.module.jobs ?? [])].reverse()) await job.stop();
      await h.close();
      await counted.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ClientRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a libpq program (psql, pgbench) with the grant's connection in its environment, never on its command line. */
export function libpq(
  program: 'psql' | 'pgbench',
  args: string[],
  conn: {
    host: string;
    port: number;
    user: string;
    password: string;
    database: string;
    sslmode?: string;
    sslrootcert?: string;
  },
  timeoutMs = 60_000,
): Promise<ClientRun> {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    PGHOST: conn.host,
    PGPORT: String(conn.port),
    PGUSER: conn.user,
    PGPASSWORD: conn.password,
    PGDATABASE: conn.database,
    PGSSLMODE: conn.sslmode ?? 'require',
    PGCONNECT_TIMEOUT: '10',
    ...(conn.sslrootcert ? { PGSSLROOTCERT: conn.sslrootcert } : {}),
  };
  return new Promise((resolve) => {
    execFile(program, args, { env, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 124) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
