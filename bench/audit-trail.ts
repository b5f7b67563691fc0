/**
 * Audit trail figures (issue 3), on the embedded SQLite store:
 *   - durable appends per second, one event per transaction and batched (BATCH = 500 events per transaction);
 *   - folding the events into the stored tree, and inclusion-proof time at that size (p50/p99);
 *   - bytes stored per event.
 * The offline verification rate and its memory at 1M and 10M events come from bench/audit-verify.ts, run in
 * child processes so each peak RSS is that verifier's alone.
 *
 * `npx tsx bench/audit-trail.ts [events] [--out file]` (default 1,000,000 events) prints the table and a JSON
 * line, and writes that JSON to `file` (`npm run bench` puts it into bench/results.json). `--mac-only` measures
 * only what the leaf MAC costs appends (about a minute). A small count is a
 * quick smoke of the whole path: the verifier then checks that many events, and STINT_BENCH_VERIFY_LARGE
 * (default 10,000,000) events for the second, memory-flatness run.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appendAudit } from '../src/audit/audit-store.js';
import { leafMac, leafMacKeys } from '../src/audit/log/leaf-mac.js';
import { generateNoteKey, parseSkey } from '../src/audit/log/signed-note.js';
import { migrate, openDatabase } from '../src/store/database.js';
import { benchAuditLog, syntheticEvent } from './audit-fixture.js';
import type { VerifyFigures } from './audit-verify.js';

const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const out = outAt >= 0 ? args[outAt + 1] : undefined;
const total = Number(args.find((a, i) => /^\d+$/.test(a) && (outAt < 0 || i !== outAt + 1)) ?? 1_000_000);
const BATCH = 500;

export interface AuditFigures {
  events: number;
  appendsPerSecondSingle: number;
  /** Appends per second with `batchSize` events per transaction. */
  appendsPerSecondBatched: number;
  batchSize: number;
  treeBuildSeconds: number;
  inclusionProofMs: { p50: number; p99: number };
  bytesPerEvent: number;
  /** Offline verification, each run in its own process: the usual size, then a 10× larger one for memory. */
  verify: VerifyFigures[];
  /** What the leaf MAC costs appends (issue 15: under 10 %). */
  leafMacCost?: {
    single: MacCostFigure;
    batched: MacCostFigure;
    microsecondsPerMac: number;
    method: string;
  };
  /** What write-once WORM checkpoint files cost appends (bench/checkpoint-files.ts; issue 15: under 10 %). */
  writeOnceFiles?: {
    costPercent: number;
    appendsPerSecondWithoutFolder: number;
    appendsPerSecondWithWriteOnceFiles: number;
    roundsPercent?: number[];
    method?: string;
  };
}

/** One kind of append's MAC cost: medians over the rounds. */
export interface MacCostFigure {
  /** Events per second without and with MACs (each the median of the rounds' rates). */
  plain: number;
  mac: number;
  /** Throughput lost to the MAC: the median of the rounds' figures, each from paired appends. */
  overheadPercent: number;
  /** Each round's figure, to see the spread. */
  roundsPercent: number[];
  /** The same from CPU time alone (the process's user + system), which waits for neither disk nor CPU. */
  cpuOverheadPercent: number;
}

const median = (values: readonly number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/**
 * What the leaf MAC costs appends (issue 15: under 10 %). Two fresh stores side by side, one with MAC keys
 * registered, take the same appends in turn (ABBA: plain then MAC, MAC then plain, …), one event or one batch
 * at a time, so the shared machine's load hits both alike. A round's figure comes from the median of its
 * paired time ratios (a stalled fsync on one side does not decide it); the result is the median of `rounds`
 * rounds, each on fresh stores. The CPU time each side used is reported beside it: on a machine whose other
 * tenants come and go it varies less than the clock.
 */
async function macCost(
  singles: number,
  batches: number,
  rounds = 9,
): Promise<{
  single: MacCostFigure;
  batched: MacCostFigure;
  /** CPU time of one leaf MAC alone (median of 5 runs of 100,000), immune to disk and neighbour noise. */
  microsecondsPerMac: number;
  method: string;
}> {
  const signer = parseSkey(generateNoteKey('bench.stint/audit').skey);
  type Side = 'plain' | 'mac';
  type Kind = 'single' | 'batched';
  const perRound: Record<Kind, { overhead: number[]; cpu: number[]; plain: number[]; mac: number[] }> = {
    single: { overhead: [], cpu: [], plain: [], mac: [] },
    batched: { overhead: [], cpu: [], plain: [], mac: [] },
  };
  for (let round = 0; round < rounds; round++) {
    const dir = mkdtempSync(join(tmpdir(), 'stint-bench-mac-'));
    const stores = {} as Record<Side, ReturnType<typeof openDatabase>>;
    for (const side of ['plain', 'mac'] as const) {
      stores[side] = openDatabase(`sqlite:${join(dir, `${side}.db`)}`);
      await migrate(stores[side]);
    }
    const keys = { plain: [], mac: leafMacKeys([signer]) };
    let next = 0;
    const measure = async (kind: Kind, turns: number, size: number) => {
      const ratios: number[] = [];
      const wall = { plain: 0, mac: 0 };
      const cpu = { plain: 0, mac: 0 };
      for (let turn = 0; turn < turns; turn++) {
        const events = Array.from({ length: size }, (_, k) => syntheticEvent(next + k));
        next += size;
        const took = { plain: 0, mac: 0 };
        for (const side of turn % 2 ? (['mac', 'plain'] as const) : (['plain', 'mac'] as const)) {
          const c = process.cpuUsage();
          const t = performance.now();
          await appendAudit(
            stores[side].db,
            size === 1 ? (events[0] as ReturnType<typeof syntheticEvent>) : events,
            keys[side],
          );
          took[side] = performance.now() - t;
          const used = process.cpuUsage(c);
          cpu[side] += used.user + used.system;
          wall[side] += took[side];
        }
        ratios.push(took.mac / took.plain);
      }
      const r = perRound[kind];
      r.overhead.push(100 * (1 - 1 / median(ratios)));
      r.cpu.push(100 * (1 - cpu.plain / cpu.mac));
      r.plain.push((turns * size) / (wall.plain / 1000));
      r.mac.push((turns * size) / (wall.mac / 1000));
    };
    await measure('single', singles, 1);
    await measure('batched', batches, BATCH);
    for (const side of ['plain', 'mac'] as const) await stores[side].close();
    rmSync(dir, { recursive: true, force: true });
  }
  const figure = (kind: Kind): MacCostFigure => {
    const r = perRound[kind];
    return {
      plain: Math.round(median(r.plain)),
      mac: Math.round(median(r.mac)),
      overheadPercent: Number(median(r.overhead).toFixed(1)),
      roundsPercent: r.overhead.map((o) => Number(o.toFixed(1))),
      cpuOverheadPercent: Number(median(r.cpu).toFixed(1)),
    };
  };
  const keys = leafMacKeys([signer]);
  const leaf = new Uint8Array(32).fill(7);
  const runs: number[] = [];
  for (let run = 0; run < 5; run++) {
    const t = performance.now();
    for (let i = 0; i < 100_000; i++) leafMac(keys, i, leaf);
    runs.push(((performance.now() - t) * 1000) / 100_000);
  }
  return {
    single: figure('single'),
    batched: figure('batched'),
    microsecondsPerMac: Number(median(runs).toFixed(2)),
    method:
      `${rounds} rounds on fresh SQLite stores, MAC off/on alternated per append (${singles} single-event and ` +
      `${batches} ${BATCH}-event appends a side per round); overhead = 1 − 1/median(paired time ratio), ` +
      'median of the rounds',
  };
}

/** Prints the MAC cost lines (also alone: `audit-trail.ts --mac-only`). */
function printMacCost(mac: Awaited<ReturnType<typeof macCost>>, batchedAppendMicroseconds: number): void {
  const line = (label: string, f: MacCostFigure) =>
    console.log(
      `  leaf MAC cost, ${label} ${f.overheadPercent} % (${f.mac.toLocaleString('en-US')} vs ${f.plain.toLocaleString('en-US')} events/s; rounds ${f.roundsPercent.join(' / ')}; CPU time ${f.cpuOverheadPercent} %; target < 10 %)`,
    );
  line('1 event/transaction    ', mac.single);
  line(`${BATCH} events/transaction`, mac.batched);
  console.log(
    `  one leaf MAC alone                      ${mac.microsecondsPerMac} µs (a batched append: ${batchedAppendMicroseconds.toFixed(1)} µs)`,
  );
  console.log(`  (${mac.method})`);
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;

async function main(): Promise<void> {
  if (args.includes('--mac-only')) {
    const mac = await macCost(1_000, 100);
    console.log('audit trail (SQLite store)');
    printMacCost(mac, 1e6 / mac.batched.mac);
    const json = JSON.stringify({ leafMacCost: mac });
    console.log(json);
    if (out) writeFileSync(out, json);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'stint-bench-audit-'));
  const file = join(dir, 'stint.db');
  const store = openDatabase(`sqlite:${file}`);
  await migrate(store);
  // The server's writer appends with the log's MAC keys.
  const { log, macKeys } = benchAuditLog(store, 'bench.stint/audit');

  // One event per transaction: the shape of a state change that records one event.
  // Half at most, so a small smoke run (`audit-trail.ts 2000`) still measures the batched path.
  const single = Math.min(10_000, Math.floor(total / 2));
  let t = performance.now();
  for (let i = 0; i < single; i++) await appendAudit(store.db, syntheticEvent(i), macKeys);
  const singleRate = single / ((performance.now() - t) / 1000);

  // Batched: many events per durable commit (group commit), the way a busy server's writes can be grouped.
  t = performance.now();
  for (let i = single; i < total; i += BATCH) {
    const n = Math.min(BATCH, total - i);
    await appendAudit(
      store.db,
      Array.from({ length: n }, (_, k) => syntheticEvent(i + k)),
      macKeys,
    );
  }
  const batchedRate = (total - single) / ((performance.now() - t) / 1000);

  t = performance.now();
  await log.build({ checkpoint: true });
  const buildSeconds = (performance.now() - t) / 1000;

  const samples: number[] = [];
  for (let k = 0; k < 2000; k++) {
    const index = Math.floor(Math.random() * total);
    const s = performance.now();
    const proof = await log.inclusionProof(index, total);
    samples.push(performance.now() - s);
    if (proof.length === 0 && total > 1) throw new Error('empty proof');
  }
  samples.sort((a, b) => a - b);

  store.db.destroy();
  await new Promise((r) => setTimeout(r, 100));
  const bytes = statSync(file).size + (statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0);
  rmSync(dir, { recursive: true, force: true });

  /** Runs the verifier in a child, echoes its table and returns the figures of its last (JSON) line. */
  const verify = (n: number): VerifyFigures => {
    const text = execFileSync(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./audit-verify.ts', import.meta.url)), String(n)],
      { encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    const lines = text.trimEnd().split('\n');
    process.stdout.write(`${lines.slice(0, -1).join('\n')}\n`);
    return (JSON.parse(lines.at(-1) as string) as { verify: VerifyFigures }).verify;
  };

  const results: AuditFigures = {
    events: total,
    appendsPerSecondSingle: Math.round(singleRate),
    appendsPerSecondBatched: Math.round(batchedRate),
    batchSize: BATCH,
    treeBuildSeconds: Number(buildSeconds.toFixed(1)),
    inclusionProofMs: {
      p50: Number(percentile(samples, 50).toFixed(3)),
      p99: Number(percentile(samples, 99).toFixed(3)),
    },
    bytesPerEvent: Math.round(bytes / total),
    verify: [],
  };
  console.log('audit trail (SQLite store)');
  console.log(
    `  durable appends, 1 event/transaction   ${results.appendsPerSecondSingle.toLocaleString('en-US')} events/s`,
  );
  console.log(
    `  durable appends, ${BATCH} events/transaction ${results.appendsPerSecondBatched.toLocaleString('en-US')} events/s (target ≥ 20,000)`,
  );
  console.log(
    `  fold ${total.toLocaleString('en-US')} events into the tree     ${results.treeBuildSeconds} s`,
  );
  console.log(
    `  inclusion proof at ${total.toLocaleString('en-US')} events   p50 ${results.inclusionProofMs.p50} ms, p99 ${results.inclusionProofMs.p99} ms (target < 1 ms)`,
  );
  console.log(`  bytes stored per event                 ${results.bytesPerEvent}`);
  const mac = await macCost(
    Math.min(1_000, Math.max(50, Math.floor(total / 1_000))),
    Math.min(100, Math.max(4, Math.floor(total / 10_000))),
  );
  printMacCost(mac, 1e6 / mac.batched.mac);
  Object.assign(results, { leafMacCost: mac });
  console.log('offline verification (bench/audit-verify.ts, child processes):');
  results.verify.push(verify(Math.min(total, 1_000_000)));
  results.verify.push(verify(Number(process.env.STINT_BENCH_VERIFY_LARGE ?? 10_000_000)));
  const json = JSON.stringify({ audit: results });
  console.log(json);
  if (out) writeFileSync(out, json);
}

await main();
