/**
 * `npm run bench`: Stint's performance figures, printed as tables and written to bench/results.json.
 *
 *   1. approve → usable PostgreSQL credential (real provider, scram-sha-256 cluster started here)
 *   2. revocation lag after expiry, with a live SET ROLE session and new logins polled from the instant
 *   3. request+approve cycles per second on SQLite and PostgreSQL stores (in-memory provider double)
 *   2b. revocation lag after a restart with 100 grants overdue at once (`restart`)
 *   4. server peak RSS with 10,000 active grants (child process; in-memory provider double: the real provider's
 *      pg connection pool and its target round trips are not in the figure)
 *   5. the audit trail: appends/s, tree building, inclusion proofs, bytes per event, offline verification rate
 *      (bench/audit-trail.ts in a child process of its own)
 *
 * Before them, the calibration (bench/calibration.ts); after them, issue 27's floors as ratios to it
 * (bench/floors.ts). The CLI's cold start is `cli` (bench/cli-start.ts).
 *
 * `npm run bench -- --only=calibration,cli,credential,…` runs a subset and leaves results.json alone;
 * `--out=<file>` writes that run's results there (`npm run bench:readme -- <file>` renders README's floors from it).
 * It is a benchmark, not a test: it exits 0 whether or not the figures meet their targets.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { type PgCluster, startPgCluster } from '../test/support/pg-cluster.js';
import { MACHINE_PG, STORE_KINDS } from '../test/support/stores.js';
import { measureAuditGrowth, measureAuditTrail } from './audit-child.js';
import { measureBareHandler } from './bare-handler.js';
import { measureBreakglassAlert } from './breakglass-alert.js';
import { CALIBRATION_PLAN, measureCalibration, measureLeafRate, renderCalibration } from './calibration.js';
import { collectChecks } from './checks.js';
import { measureCliStart, renderCliStart } from './cli-start.js';
import { measureCredentialLatency, measureScramVerifier } from './credential-latency.js';
import { measureExpiryBurst } from './expiry-burst.js';
import { computeFloors, renderFloors } from './floors.js';
import { measureGrantGrowth, renderGrantGrowth } from './grant-growth.js';
import { measureMariaDb } from './kinds/mariadb.js';
import { measureRedis } from './kinds/redis.js';
import { measureSsh } from './kinds/ssh.js';
import { measureNotify } from './notify.js';
import { measureEvidenceExport, measureMetricsScrape } from './ops.js';
import { TARGET_ENV } from './policy.js';
import { measurePortal } from './portal.js';
import { measurePgProxy, renderPgProxy } from './recording-pg.js';
import { measureSshProxy, renderSshProxy } from './recording-ssh.js';
import { type Results, renderResults } from './report.js';
import { measureRestartLag } from './restart-lag.js';
import { measureRevocationLag } from './revocation-lag.js';
import { measureRss } from './rss.js';
import { measureSoak, renderSoak, type SoakPlan } from './soak.js';
import { measureTakeover } from './takeover.js';
import { measureThroughput } from './throughput.js';

const PLAN = {
  credentialSamples: 200,
  lagSamples: 100,
  lagLanes: 10,
  /** A control run without login polling, to show what the polling itself costs the session figure. */
  lagControlSamples: 50,
  /** Grants overdue together when a server starts (after a crash or a store outage). */
  restartOverdue: 100,
  cycles: { sqlite: 2000, postgresql: 1000 },
  concurrency: 8,
  /** SQLite again with one cycle in flight: the same rate means the run is CPU-bound, not waiting on locks. */
  serialCycles: 1000,
  grants: 10_000,
  /** Issue 27's growth: the memory figure at each of these sizes. */
  grantGrowth: [1_000, 10_000, 100_000],
  /** CLI cold start: rounds of node -e 0 / --version / request, alternated. */
  cliRounds: 20,
  /** Per target kind with a real server here: issue + first login, and revoke → session ended. */
  kindSamples: 30,
  /** Grants expiring in one instant, and how many of them hold an open session (the cluster allows 200). */
  burst: { grants: 500, sessions: 150 },
  /** Servers killed mid-issuance, one at a time. */
  takeovers: 5,
  /** Issue 27's soak: real cycles (request, approve, credential on the target, revoke) for 10 minutes. */
  soak: { store: 'sqlite', minutes: 10, rate: 130, maxInFlight: 64, warmupSeconds: 60 } as SoakPlan,
  memory: {
    /** The peak moves by tens of MB between identical runs (V8 heap growth), so the shipped server runs 3×. */
    repeats: 3,
    /**
     * Then with V8's own sizing (STINT_HEAP=v8, what plain `node` does), and with the old space capped by a flag
     * (which turns the profile off): how much of the peak is GC headroom rather than live data.
     */
    flagSets: [['STINT_HEAP=v8'], ['--max-old-space-size=128']],
  },
};

const FIGURES = [
  'calibration',
  'cli',
  'credential',
  'lag',
  'restart',
  'throughput',
  'memory',
  'audit',
  'kinds',
  'notify',
  'ops',
  'portal',
  'burst',
  'takeover',
  'recording',
  'soak',
  'growth',
] as const;
type Figure = (typeof FIGURES)[number];

const outArg = process.argv.slice(2).find((a) => a.startsWith('--out='));
/** `--soak-minutes=N`: a shorter soak while working on it (the floor is held at 10). */
const soakMinutesArg = process.argv.slice(2).find((a) => a.startsWith('--soak-minutes='));
if (soakMinutesArg) {
  const minutes = Number(soakMinutesArg.slice('--soak-minutes='.length));
  if (!Number.isInteger(minutes) || minutes < 2)
    throw new Error('--soak-minutes: a whole number of minutes, 2 or more');
  PLAN.soak.minutes = minutes;
}

function selected(): Set<Figure> {
  const arg = process.argv.slice(2).find((a) => a.startsWith('--only='));
  if (!arg) return new Set(FIGURES);
  const names = arg.slice('--only='.length).split(',');
  for (const n of names) {
    if (!(FIGURES as readonly string[]).includes(n)) throw new Error(`--only: unknown figure ${n}`);
  }
  return new Set(names as Figure[]);
}

async function serverVersion(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? '?';
  } finally {
    await c.end();
  }
}

/** Biome lays JSON out differently from JSON.stringify; formatting it here keeps `npm run lint` clean after a run. */
function formatLikeTheRepo(file: string): void {
  const biome = fileURLToPath(new URL('../node_modules/.bin/biome', import.meta.url));
  try {
    execFileSync(biome, ['format', '--write', file], { stdio: 'ignore' });
  } catch {
    // Outside the repository (an --out file in /tmp) Biome has nothing to format by.
    progress(`biome format failed on ${file}; run \`npx biome format --write <file>\` before committing it`);
  }
}

const progress = (text: string) => process.stderr.write(`[bench] ${text}\n`);

async function main(): Promise<void> {
  // Ctrl-C exits through process.exit, so startPgCluster's 'exit' hook stops the cluster it started.
  process.once('SIGINT', () => process.exit(130));
  const only = selected();
  const started = performance.now();
  const results: Results = {
    generatedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      node: process.versions.node,
      // The machine may be shared: figures taken under load are lower, and this says how loaded it was.
      loadAverage1mAtStart: Math.round((loadavg()[0] ?? 0) * 100) / 100,
      loadAverageAtStart: loadavg()
        .map((l) => l.toFixed(2))
        .join(' '),
      storePostgres: await serverVersion(`${MACHINE_PG}/postgres`),
      targetPostgres: '?',
    },
    durationSeconds: 0,
    credentialLatency: [],
    scramVerifierMs: null,
    revocationLag: [],
    restartLag: [],
    throughput: [],
    memory: null,
    audit: null,
    kinds: [],
    notify: [],
    breakglassAlert: [],
    ops: null,
    portal: null,
    checks: [],
    calibration: null,
    cliStart: null,
    expiryBurst: [],
    takeover: null,
    recording: { ssh: null, pg: null },
    soak: null,
    growth: { audit: null },
    floors: [],
  };

  let cluster: PgCluster | undefined;
  try {
    const needsCluster = [
      'calibration',
      'credential',
      'lag',
      'restart',
      'burst',
      'takeover',
      'recording',
      'soak',
    ] as const;
    if (needsCluster.some((f) => only.has(f))) {
      progress('starting the scram-sha-256 target cluster (fsync on)');
      // Durable, as a production target is: the calibration's CREATE ROLE + login pays its commit flush.
      // STINT_BENCH_TARGET_FSYNC=off: the tests' unflushed cluster, to see what the target's flushes cost a figure.
      cluster = await startPgCluster({ durable: process.env.STINT_BENCH_TARGET_FSYNC !== 'off' });
      results.machine.targetPostgres = await serverVersion(cluster.superuserUrl);
      // First, on the cluster the credential figure then uses: the references the floors are ratios to.
      if (only.has('calibration')) {
        results.calibration = await measureCalibration(CALIBRATION_PLAN, cluster, !only.has('throughput'));
      }
      const env = { [TARGET_ENV]: cluster.stintAdminUrl };
      if (only.has('credential')) {
        for (const kind of STORE_KINDS) {
          progress(`1. credential latency on ${kind} (${PLAN.credentialSamples} samples)`);
          results.credentialLatency.push(await measureCredentialLatency(kind, env, PLAN.credentialSamples));
        }
        results.scramVerifierMs = await measureScramVerifier();
      }
      if (only.has('lag')) {
        for (const kind of STORE_KINDS) {
          progress(`2. revocation lag on ${kind} (${PLAN.lagSamples} samples, ${PLAN.lagLanes} at a time)`);
          results.revocationLag.push(await measureRevocationLag(kind, env, PLAN.lagSamples, PLAN.lagLanes));
        }
        progress(`2. revocation lag control on sqlite (${PLAN.lagControlSamples} samples, no login polling)`);
        results.revocationLag.push(
          await measureRevocationLag('sqlite', env, PLAN.lagControlSamples, PLAN.lagLanes, {
            pollLogins: false,
          }),
        );
      }
      if (only.has('burst')) {
        for (const kind of STORE_KINDS) {
          progress(`2c. ${PLAN.burst.grants} expiries in one instant on ${kind}`);
          results.expiryBurst?.push(
            await measureExpiryBurst(kind, env, PLAN.burst.grants, PLAN.burst.sessions),
          );
        }
      }
      if (only.has('takeover')) {
        progress(
          `2d. kill -9 mid-issuance, the survivor resumes (${PLAN.takeovers} tries, PostgreSQL store)`,
        );
        results.takeover = await measureTakeover(env, PLAN.takeovers);
      }
      if (only.has('recording')) {
        progress(
          '11. the PostgreSQL recording proxy against direct connections (pgbench -S, simple and extended)',
        );
        if (results.recording) results.recording.pg = await measurePgProxy(cluster);
      }
      if (only.has('soak')) {
        progress(
          `12. soak: ${PLAN.soak.minutes} min of real cycles at ${PLAN.soak.rate}/s on ${PLAN.soak.store} (server in a child process)`,
        );
        results.soak = await measureSoak(PLAN.soak, cluster.stintAdminUrl);
      }
      if (only.has('restart')) {
        for (const kind of STORE_KINDS) {
          progress(`2b. revocation lag after a restart on ${kind} (${PLAN.restartOverdue} grants overdue)`);
          results.restartLag.push(await measureRestartLag(kind, env, PLAN.restartOverdue));
        }
      }
    }
  } finally {
    await cluster?.stop();
  }
  if (only.has('throughput')) {
    for (const kind of STORE_KINDS) {
      const cycles = PLAN.cycles[kind];
      progress(`3. throughput on ${kind} (${cycles} cycles, ${PLAN.concurrency} in flight)`);
      results.throughput.push(await measureThroughput(kind, cycles, PLAN.concurrency));
    }
    progress(`3. throughput on sqlite (${PLAN.serialCycles} cycles, 1 in flight)`);
    results.throughput.push(await measureThroughput('sqlite', PLAN.serialCycles, 1));
    // Issue 27's floor is through real HTTP, against the bare handler's rate (calibration), also over HTTP.
    // The machine's speed drifts over minutes: each store's bare-handler calibration runs just before Stint's.
    for (const kind of STORE_KINDS) {
      const cycles = PLAN.cycles[kind];
      if (results.calibration) {
        progress(
          `0. calibration: bare Fastify request + approve on ${kind} (${cycles} cycles, ${PLAN.concurrency} in flight)`,
        );
        results.calibration.bareHandler.push(await measureBareHandler(kind, cycles, PLAN.concurrency));
      }
      progress(
        `3. throughput on ${kind} through real HTTP (${cycles} cycles, ${PLAN.concurrency} in flight)`,
      );
      results.throughput.push(await measureThroughput(kind, cycles, PLAN.concurrency, 'http'));
    }
  }
  if (only.has('cli')) {
    progress(
      `10. CLI cold start (${PLAN.cliRounds} alternated rounds; builds the CLI into .bench-cli/ first)`,
    );
    results.cliStart = await measureCliStart(PLAN.cliRounds);
  }
  if (only.has('memory')) {
    progress(`4. memory with ${PLAN.grants} active grants (child process)`);
    results.memory = await measureRss(PLAN.grants, PLAN.concurrency, PLAN.memory);
  }
  if (only.has('kinds')) {
    // Each against a server of its own started for the run; Stint's path and the target's own primitive are
    // alternated sample by sample, so the ratio holds on a machine whose absolute speed drifts.
    for (const [kind, measure] of [
      ['mariadb', measureMariaDb],
      ['redis', measureRedis],
      ['ssh', measureSsh],
    ] as const) {
      progress(
        `6. ${kind}: issue and revocation lag against the target's own primitive (${PLAN.kindSamples} samples)`,
      );
      try {
        results.kinds.push(await measure(PLAN.kindSamples));
      } catch (err) {
        progress(`6. ${kind} skipped: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
  if (only.has('notify')) {
    for (const store of STORE_KINDS) {
      progress(
        `7. notifications on ${store}: alert committed → webhook received, and throughput beside a slow receiver`,
      );
      results.notify.push(await measureNotify({ store }));
      progress(`7. break-glass on ${store}: invoke → security's webhook received the alert`);
      results.breakglassAlert.push(await measureBreakglassAlert({ store }));
    }
  }
  if (only.has('ops')) {
    progress('8. operations: /metrics scrape with 10,000 active grants, evidence export and offline verify');
    results.ops = { scrape: await measureMetricsScrape(), evidence: await measureEvidenceExport() };
  }
  if (only.has('portal')) {
    progress("9. the portal's first load in Debian's chromium (cold cache, signed in)");
    try {
      results.portal = await measurePortal();
    } catch (err) {
      progress(`9. portal skipped: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (only.has('recording')) {
    progress(
      '11. the SSH recording proxy against direct logins (real sshd): throughput, recording size, session end',
    );
    results.recording = { pg: results.recording?.pg ?? null, ssh: await measureSshProxy() };
  }
  if (only.has('audit')) {
    progress('5. audit trail (child process: 1M-event store, then verifiers at 1M and 10M events)');
    if (results.calibration) {
      results.calibration.leafHashesPerSecondBeforeAudit = measureLeafRate().leafHashesPerSecond;
    }
    results.audit = measureAuditTrail();
  }

  if (only.has('growth')) {
    progress(`13. growth: active grants ${PLAN.grantGrowth.join(', ')} (child process each)`);
    const grants = await measureGrantGrowth(PLAN.grantGrowth, PLAN.concurrency);
    progress('13. growth: the audit trail from 100,000 to 10,000,000 events (child process)');
    results.growth = { grants, audit: measureAuditGrowth() };
  }

  results.checks.push(
    ...collectChecks(results, { concurrency: PLAN.concurrency, memoryRepeats: PLAN.memory.repeats }),
  );
  results.durationSeconds = Math.round((performance.now() - started) / 100) / 10;
  results.machine.loadAverage1mAtEnd = Math.round((loadavg()[0] ?? 0) * 100) / 100;
  results.machine.loadAverageAtEnd = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  results.floors = computeFloors(results);
  results.figuresRun = [...only];

  process.stdout.write(`\n${renderResults(results)}\n`);
  if (results.calibration) process.stdout.write(`\n${renderCalibration(results.calibration)}\n`);
  if (results.cliStart) process.stdout.write(`\n${renderCliStart(results.cliStart)}\n`);
  if (results.recording?.ssh) process.stdout.write(`\n${renderSshProxy(results.recording.ssh)}\n`);
  if (results.recording?.pg) process.stdout.write(`\n${renderPgProxy(results.recording.pg)}\n`);
  if (results.soak) process.stdout.write(`\n${renderSoak(results.soak)}\n`);
  if (results.growth?.grants) process.stdout.write(`\n${renderGrantGrowth(results.growth.grants)}\n`);
  process.stdout.write(`\n${renderFloors(results.floors)}\n`);
  const all = only.size === FIGURES.length;
  const out = outArg
    ? outArg.slice('--out='.length)
    : all
      ? fileURLToPath(new URL('./results.json', import.meta.url))
      : null;
  if (out) {
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    formatLikeTheRepo(out);
    process.stdout.write(`Written to ${out}.\n`);
  } else {
    process.stdout.write(
      'A subset was run (--only): bench/results.json left as it was (--out=<file> keeps it).\n',
    );
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
