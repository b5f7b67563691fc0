/**
 * Audit trail figures (issue 3), on the embedded SQLite store:
 *   - durable appends per second, one event per transaction and batched (BATCH = 500 events per transaction);
 *   - folding the events into the stored tree, and inclusion-proof time at that size (p50/p99);
 *   - bytes stored per event.
 * The offline verification rate and its memory at 1M and 10M events come from bench/audit-verify.ts, run in
 * child processes so each peak RSS is that verifier's alone.
 *
 * `npx tsx bench/audit-trail.ts [events] [--out file]` (default 1,000,000 events) prints the table and a JSON
 * line, and writes that JSON to `file` (`npm run bench` puts it into bench/results.json). A small count is a
 * quick smoke of the whole path: the verifier then checks that many events, and STINT_BENCH_VERIFY_LARGE
 * (default 10,000,000) events for the second, memory-flatness run.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAuditLog } from '../src/audit/audit-log.js';
import { appendAudit, registerLeafMacKeys } from '../src/audit/audit-store.js';
import { leafMac, leafMacKeys } from '../src/audit/log/leaf-mac.js';
import { generateNoteKey, parseSkey } from '../src/audit/log/signed-note.js';
import { silentLogger } from '../src/logger.js';
import { migrate, openDatabase } from '../src/store/database.js';
import type { VerifyFigures } from './audit-verify.js';

const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const out = outAt >= 0 ? args[outAt + 1] : undefined;
const total = Number(args.find((a, i) => /^\d+$/.test(a) && i !== outAt + 1) ?? 1_000_000);
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
    single: { plain: number; mac: number; overheadPercent: number };
    batched: { plain: number; mac: number; overheadPercent: number };
    microsecondsPerMac: number;
  };
  /** What write-once WORM checkpoint files cost appends (bench/checkpoint-files.ts; issue 15: under 10 %). */
  writeOnceFiles?: {
    costPercent: number;
    appendsPerSecondWithoutFolder: number;
    appendsPerSecondWithWriteOnceFiles: number;
  };
}

function event(i: number) {
  return {
    at: new Date(1_790_000_000_000 + i * 1000),
    actor: `user${i % 97}`,
    action: 'grant.activated',
    requestId: `req_${(i * 7919).toString(16).padStart(16, '0')}`,
    target: { resource: 'prod-db', role: 'admin' },
    reason: `INC-${i % 5000}`,
    details: { expiresAt: new Date(1_790_000_000_000 + i * 1000 + 7_200_000).toISOString() },
  };
}

/**
 * What the leaf MAC costs appends (issue 15: under 10 %): the same appends on fresh stores with and without MAC
 * keys registered, alternating, best of three rounds each so a noisy neighbour hurts both alike.
 */
async function macCost(n: number): Promise<{
  single: { plain: number; mac: number; overheadPercent: number };
  batched: { plain: number; mac: number; overheadPercent: number };
  /** CPU time of one leaf MAC alone, immune to disk and neighbour noise. */
  microsecondsPerMac: number;
}> {
  const signer = parseSkey(generateNoteKey('bench.stint/audit').skey);
  const best = { plain: { single: 0, batched: 0 }, mac: { single: 0, batched: 0 } };
  for (let round = 0; round < 3; round++) {
    for (const mode of ['plain', 'mac'] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'stint-bench-mac-'));
      const store = openDatabase(`sqlite:${join(dir, 'stint.db')}`);
      await migrate(store);
      if (mode === 'mac') registerLeafMacKeys(store.db, leafMacKeys([signer]));
      let t = performance.now();
      for (let i = 0; i < n; i++) await appendAudit(store.db, event(i));
      const single = n / ((performance.now() - t) / 1000);
      const many = n * 10;
      t = performance.now();
      for (let i = n; i < n + many; i += BATCH) {
        await appendAudit(
          store.db,
          Array.from({ length: Math.min(BATCH, n + many - i) }, (_, k) => event(i + k)),
        );
      }
      const batched = many / ((performance.now() - t) / 1000);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
      best[mode].single = Math.max(best[mode].single, single);
      best[mode].batched = Math.max(best[mode].batched, batched);
    }
  }
  const figure = (kind: 'single' | 'batched') => ({
    plain: Math.round(best.plain[kind]),
    mac: Math.round(best.mac[kind]),
    overheadPercent: Number((100 * (1 - best.mac[kind] / best.plain[kind])).toFixed(1)),
  });
  const keys = leafMacKeys([signer]);
  const leaf = new Uint8Array(32).fill(7);
  const t = performance.now();
  for (let i = 0; i < 100_000; i++) leafMac(keys, i, leaf);
  const microsecondsPerMac = Number((((performance.now() - t) * 1000) / 100_000).toFixed(2));
  return { single: figure('single'), batched: figure('batched'), microsecondsPerMac };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stint-bench-audit-'));
  const file = join(dir, 'stint.db');
  const store = openDatabase(`sqlite:${file}`);
  await migrate(store);
  const signer = parseSkey(generateNoteKey('bench.stint/audit').skey);
  const log = createAuditLog({
    store,
    clock: () => new Date(),
    logger: silentLogger,
    origin: signer.name,
    signers: [signer],
    checkpointDir: null,
    checkpointIntervalMs: 0,
  });

  // One event per transaction: the shape of a state change that records one event.
  // Half at most, so a small smoke run (`audit-trail.ts 2000`) still measures the batched path.
  const single = Math.min(10_000, Math.floor(total / 2));
  let t = performance.now();
  for (let i = 0; i < single; i++) await appendAudit(store.db, event(i));
  const singleRate = single / ((performance.now() - t) / 1000);

  // Batched: many events per durable commit (group commit), the way a busy server's writes can be grouped.
  t = performance.now();
  for (let i = single; i < total; i += BATCH) {
    const n = Math.min(BATCH, total - i);
    await appendAudit(
      store.db,
      Array.from({ length: n }, (_, k) => event(i + k)),
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
  const mac = await macCost(Math.min(5_000, Math.max(100, Math.floor(total / 200))));
  console.log(
    `  leaf MAC cost, 1 event/transaction      ${mac.single.overheadPercent} % (${mac.single.mac.toLocaleString('en-US')} vs ${mac.single.plain.toLocaleString('en-US')} events/s; target < 10 %)`,
  );
  console.log(
    `  leaf MAC cost, ${BATCH} events/transaction  ${mac.batched.overheadPercent} % (${mac.batched.mac.toLocaleString('en-US')} vs ${mac.batched.plain.toLocaleString('en-US')} events/s; target < 10 %)`,
  );
  console.log(
    `  one leaf MAC alone                      ${mac.microsecondsPerMac} µs (a batched append: ${(1e6 / results.appendsPerSecondBatched).toFixed(1)} µs)`,
  );
  Object.assign(results, { leafMacCost: mac });
  console.log('offline verification (bench/audit-verify.ts, child processes):');
  results.verify.push(verify(Math.min(total, 1_000_000)));
  results.verify.push(verify(Number(process.env.STINT_BENCH_VERIFY_LARGE ?? 10_000_000)));
  const json = JSON.stringify({ audit: results });
  console.log(json);
  if (out) writeFileSync(out, json);
}

await main();
