/**
 * Calibration (issue 27): what this machine does in this run with nothing of Stint's in the way. Absolute figures
 * drift about 2× between runs on shared machines, so each floor is a ratio to one of these, taken in the same run
 * (bench/floors.ts):
 *   - the raw SHA-256 leaf rate: RFC 9162 leaf hashes of canonical audit events, one core, no store;
 *   - PostgreSQL's own CREATE ROLE + GRANT + first login and SELECT 1 on the scram-sha-256 cluster (p50);
 *   - a bare Fastify handler doing the store work of request + approve, through real HTTP (bench/bare-handler.ts);
 *   - a bare loopback HTTP round trip (bench/loopback.ts).
 *
 * `npx tsx bench/calibration.ts` prints them alone.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { encodeEvent } from '../src/audit/audit-event.js';
import { leafHash } from '../src/audit/log/merkle.js';
import { connectAs, type PgCluster, startPgCluster } from '../test/support/pg-cluster.js';
import { STORE_KINDS } from '../test/support/stores.js';
import { type BareHandlerFigures, measureBareHandler } from './bare-handler.js';
import { type LoopbackFigures, measureLoopback } from './loopback.js';
import { type Summary, summarize } from './stats.js';

export interface Calibration {
  /** Leaf hashes per second on one core (the median of `rounds` one-second rounds). */
  leafHashesPerSecond: number;
  /** Mean size of the canonical events hashed, bytes. */
  leafBytes: number;
  /** The same, taken again just before the audit figures (which run last, minutes later), when they run. */
  leafHashesPerSecondBeforeAudit?: number;
  /** ms: CREATE ROLE … LOGIN PASSWORD, GRANT app_admin, then a fresh login as it and SELECT 1. */
  pgCreateRoleLogin: Summary;
  bareHandler: BareHandlerFigures[];
  loopback: LoopbackFigures;
}

export interface CalibrationPlan {
  pgSamples: number;
  bareCycles: { sqlite: number; postgresql: number };
  concurrency: number;
  loopbackSamples: number;
}

export const CALIBRATION_PLAN: CalibrationPlan = {
  pgSamples: 100,
  bareCycles: { sqlite: 2000, postgresql: 1000 },
  concurrency: 8,
  loopbackSamples: 2000,
};

/** Audit events shaped as Stint writes them (bench/audit-trail.ts appends the same shape). */
function sampleEvents(n: number): string[] {
  return Array.from({ length: n }, (_, i) =>
    encodeEvent({
      v: 1,
      seq: i,
      id: `0b6c8f1e-${(i % 65536).toString(16).padStart(4, '0')}-4a8e-9d1c-5f2e7a9b3c4d`,
      time: new Date(1_790_000_000_000 + i * 1000).toISOString(),
      actor: `user${i % 97}`,
      action: 'grant.activated',
      result: 'success',
      requestId: `req_${(i * 7919).toString(16).padStart(16, '0')}`,
      target: { resource: 'prod-db', role: 'admin' },
      reason: `INC-${i % 5000}`,
      source: { ip: '10.1.2.3', userAgent: 'stint-cli/0.1.0' },
      details: { expiresAt: new Date(1_790_000_000_000 + i * 1000 + 7_200_000).toISOString() },
    }),
  );
}

export function measureLeafRate(rounds = 5): { leafHashesPerSecond: number; leafBytes: number } {
  const events = sampleEvents(4096);
  const rates: number[] = [];
  let sink = 0;
  for (let r = 0; r < rounds + 1; r++) {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 1000) {
      for (const e of events) sink ^= leafHash(e)[0] as number;
      n += events.length;
    }
    // The first round warms the JIT and is not counted.
    if (r > 0) rates.push((n / (performance.now() - t0)) * 1000);
  }
  if (sink === -1) process.stderr.write('');
  rates.sort((a, b) => a - b);
  const bytes = events.reduce((a, e) => a + Buffer.byteLength(e), 0) / events.length;
  return {
    leafHashesPerSecond: Math.round(rates[rates.length >> 1] as number),
    leafBytes: Math.round(bytes),
  };
}

/** The target's own create + first login, by hand on an open admin connection, as a DBA would do it. */
export async function measurePgCreateRoleLogin(cluster: PgCluster, samples: number): Promise<Summary> {
  const admin = await connectAs(cluster.stintAdminUrl);
  const times: number[] = [];
  try {
    for (let i = 0; i < samples + 5; i++) {
      const name = `bench_cal_${randomBytes(6).toString('hex')}`;
      const password = randomBytes(24).toString('base64url');
      const t0 = performance.now();
      await admin.query(`CREATE ROLE ${name} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
      await admin.query(`GRANT app_admin TO ${name}`);
      const own = new pg.Client({
        connectionString: cluster.url(name, password),
        connectionTimeoutMillis: 5000,
      });
      own.on('error', () => {});
      await own.connect();
      await own.query('SELECT 1');
      const ms = performance.now() - t0;
      await own.end();
      await admin.query(`DROP ROLE ${name}`);
      if (i >= 5) times.push(ms);
    }
  } finally {
    await admin.end();
  }
  return summarize(times);
}

const progress = (text: string) => process.stderr.write(`[bench] ${text}\n`);

/** Every calibration figure; starts its own scram cluster unless given the run's. */
export async function measureCalibration(
  plan: CalibrationPlan = CALIBRATION_PLAN,
  given?: PgCluster,
  /** false when the run measures Stint's throughput: the bare handler then runs just before it (bench/run.ts). */
  withBareHandler = true,
): Promise<Calibration> {
  progress('0. calibration: raw SHA-256 leaf rate');
  const leaf = measureLeafRate();
  progress(`0. calibration: PostgreSQL CREATE ROLE + first login (${plan.pgSamples} samples)`);
  const cluster = given ?? (await startPgCluster({ durable: true }));
  let pgCreateRoleLogin: Summary;
  try {
    pgCreateRoleLogin = await measurePgCreateRoleLogin(cluster, plan.pgSamples);
  } finally {
    if (!given) await cluster.stop();
  }
  const bareHandler: BareHandlerFigures[] = [];
  for (const kind of withBareHandler ? STORE_KINDS : []) {
    const cycles = plan.bareCycles[kind];
    progress(
      `0. calibration: bare Fastify request + approve on ${kind} (${cycles} cycles, ${plan.concurrency} in flight)`,
    );
    bareHandler.push(await measureBareHandler(kind, cycles, plan.concurrency));
  }
  progress(`0. calibration: bare loopback HTTP round trip (${plan.loopbackSamples} samples)`);
  const loopback = await measureLoopback(plan.loopbackSamples);
  return { ...leaf, pgCreateRoleLogin, bareHandler, loopback };
}

/** The calibration as printed lines. */
export function renderCalibration(c: Calibration): string {
  const lines = [
    'Calibration (same run):',
    `  raw SHA-256 leaf rate              ${c.leafHashesPerSecond.toLocaleString('en-US')} leaves/s (${c.leafBytes} B events, one core)`,
    `  PostgreSQL CREATE ROLE + login p50 ${c.pgCreateRoleLogin.p50} ms (p99 ${c.pgCreateRoleLogin.p99} ms)`,
    ...c.bareHandler.map(
      (b) =>
        `  bare Fastify request+approve       ${b.cyclesPerSecond} cycles/s on ${b.store} (${b.concurrency} in flight, ${b.cpuMsPerCycle} ms CPU/cycle)`,
    ),
    `  bare loopback HTTP round trip p50  ${c.loopback.roundTripUs.p50} µs (${c.loopback.roundTripsPerSecond.toLocaleString('en-US')}/s one at a time)`,
  ];
  return lines.join('\n');
}

/** The calibration in one sentence, for README. */
export function renderCalibrationLine(c: Calibration): string {
  const bare = c.bareHandler.map((b) => `${b.cyclesPerSecond} /s on ${b.store}`).join(', ');
  return (
    `raw SHA-256 leaf rate ${c.leafHashesPerSecond.toLocaleString('en-US')} /s (${c.leafBytes} B events` +
    (c.leafHashesPerSecondBeforeAudit
      ? `; ${c.leafHashesPerSecondBeforeAudit.toLocaleString('en-US')} /s just before the audit figures); `
      : '); ') +
    `PostgreSQL CREATE ROLE + first login p50 ${c.pgCreateRoleLogin.p50} ms; ` +
    `bare Fastify request + approve ${bare}; bare loopback round trip p50 ${c.loopback.roundTripUs.p50} µs`
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  measureCalibration().then(
    (c) => {
      process.stdout.write(`${renderCalibration(c)}\n${JSON.stringify(c)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
