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
 * `npm run bench -- --only=credential,lag,restart,throughput,memory,audit` runs a subset and leaves results.json
 * alone.
 * It is a benchmark, not a test: it exits 0 whether or not the figures meet their targets.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { type PgCluster, startPgCluster } from '../test/support/pg-cluster.js';
import { MACHINE_PG, STORE_KINDS } from '../test/support/stores.js';
import type { AuditFigures } from './audit-trail.js';
import { measureCredentialLatency, measureScramVerifier } from './credential-latency.js';
import { TARGET_ENV } from './policy.js';
import { check, type Results, renderResults } from './report.js';
import { measureRestartLag } from './restart-lag.js';
import { measureRevocationLag } from './revocation-lag.js';
import { measureRss } from './rss.js';
import { measureThroughput } from './throughput.js';

const PLAN = {
  credentialSamples: 200,
  lagSamples: 100,
  lagLanes: 10,
  /** A control run without login polling, to show what the polling itself costs the session figure. */
  lagControlSamples: 50,
  /** Grants overdue together when a server starts (after a crash or a store outage). */
  restartOverdue: 100,
  cycles: { sqlite: 2000, postgres: 1000 },
  concurrency: 8,
  /** SQLite again with one cycle in flight: the same rate means the run is CPU-bound, not waiting on locks. */
  serialCycles: 1000,
  grants: 10_000,
  memory: {
    /** The peak moves by tens of MB between identical runs (V8 heap growth), so the shipped server runs 3×. */
    repeats: 3,
    /** Then with V8's old space capped: how much of the peak is GC headroom rather than live data. */
    flagSets: [['--max-old-space-size=128']],
  },
};

const FIGURES = ['credential', 'lag', 'restart', 'throughput', 'memory', 'audit'] as const;
type Figure = (typeof FIGURES)[number];

function selected(): Set<Figure> {
  const arg = process.argv.slice(2).find((a) => a.startsWith('--only='));
  if (!arg) return new Set(FIGURES);
  const names = arg.slice('--only='.length).split(',');
  for (const n of names) {
    if (!(FIGURES as readonly string[]).includes(n)) throw new Error(`--only: unknown figure ${n}`);
  }
  return new Set(names as Figure[]);
}

/**
 * The audit trail's figures run in their own process (its 1M-event store and its verifier children), printing
 * their table as they go; the figures come back through a file.
 */
function measureAuditTrail(): AuditFigures {
  const dir = mkdtempSync(join(tmpdir(), 'stint-bench-audit-out-'));
  const out = join(dir, 'audit.json');
  try {
    execFileSync(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./audit-trail.ts', import.meta.url)), '--out', out],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const audit = (JSON.parse(readFileSync(out, 'utf8')) as { audit: AuditFigures }).audit;
    // The write-once checkpoint files' cost, in a process of its own; its last line is its figures.
    const printed = execFileSync(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./checkpoint-files.ts', import.meta.url))],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    process.stdout.write(printed);
    audit.writeOnceFiles = JSON.parse(printed.trim().split('\n').at(-1) ?? '{}');
    return audit;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
    progress(
      'biome format failed on bench/results.json; run `npx biome format --write bench` before committing',
    );
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
    checks: [],
  };

  let cluster: PgCluster | undefined;
  try {
    if (only.has('credential') || only.has('lag') || only.has('restart')) {
      progress('starting the scram-sha-256 target cluster');
      cluster = await startPgCluster();
      results.machine.targetPostgres = await serverVersion(cluster.superuserUrl);
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
  }
  if (only.has('memory')) {
    progress(`4. memory with ${PLAN.grants} active grants (child process)`);
    results.memory = await measureRss(PLAN.grants, PLAN.concurrency, PLAN.memory);
  }
  if (only.has('audit')) {
    progress('5. audit trail (child process: 1M-event store, then verifiers at 1M and 10M events)');
    results.audit = measureAuditTrail();
  }

  for (const c of results.credentialLatency) {
    results.checks.push(check(`credential p50 (${c.store})`, c.total.p50, 'ms', 'lower', 100, null));
  }
  for (const l of results.revocationLag.filter((x) => x.pollLogins)) {
    results.checks.push(check(`revocation lag p99 (${l.store})`, l.lag.p99, 'ms', 'lower', 1000, 100));
  }
  for (const l of results.restartLag) {
    results.checks.push(
      check(
        `revocation lag after a restart, ${l.overdue} overdue, p99 (${l.store})`,
        l.lag.p99,
        'ms',
        'lower',
        null,
        1000,
      ),
    );
  }
  for (const t of results.throughput.filter((x) => x.concurrency === PLAN.concurrency)) {
    const sqlite = t.store === 'sqlite';
    results.checks.push(
      check(
        `cycles/s (${t.store})`,
        t.cyclesPerSecond,
        '/s',
        'higher',
        sqlite ? 500 : null,
        sqlite ? 1000 : null,
      ),
    );
  }
  if (results.memory) {
    const worst = results.memory.worstPeakMb;
    results.checks.push(
      check(
        `peak RSS, 10k grants, in-memory provider (worst of ${PLAN.memory.repeats})`,
        worst,
        'MB',
        'lower',
        null,
        200,
      ),
    );
  }
  if (results.audit) {
    const a = results.audit;
    results.checks.push(
      check(
        `audit appends/s, ${a.batchSize} per transaction`,
        a.appendsPerSecondBatched,
        '/s',
        'higher',
        null,
        20_000,
      ),
      check('audit inclusion proof p99', a.inclusionProofMs.p99, 'ms', 'lower', 1, null),
    );
    if (a.leafMacCost) {
      results.checks.push(
        check(
          `audit leaf MAC cost, ${a.batchSize} per transaction`,
          a.leafMacCost.batched.overheadPercent,
          '%',
          'lower',
          10,
          null,
        ),
        check(
          'audit leaf MAC cost, 1 per transaction',
          a.leafMacCost.single.overheadPercent,
          '%',
          'lower',
          10,
          null,
        ),
      );
    }
    if (a.writeOnceFiles) {
      results.checks.push(
        check('audit write-once checkpoint files cost', a.writeOnceFiles.costPercent, '%', 'lower', 10, null),
      );
    }
    const [usual] = a.verify;
    if (usual) {
      results.checks.push(
        check('audit offline verification', usual.bestParallelEventsPerSecond, '/s', 'higher', 300_000, null),
      );
    }
  }
  results.durationSeconds = Math.round((performance.now() - started) / 100) / 10;
  results.machine.loadAverage1mAtEnd = Math.round((loadavg()[0] ?? 0) * 100) / 100;

  process.stdout.write(`\n${renderResults(results)}\n`);
  if (only.size === FIGURES.length) {
    const file = fileURLToPath(new URL('./results.json', import.meta.url));
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    formatLikeTheRepo(file);
    process.stdout.write(`Written to bench/results.json.\n`);
  } else {
    process.stdout.write('A subset was run (--only): bench/results.json left as it was.\n');
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
