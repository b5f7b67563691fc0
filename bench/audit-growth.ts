/**
 * How the audit trail's costs move with its size (issue 27, "growth"): one SQLite store filled from 100,000 to
 * 10,000,000 events in batched appends, and at each size the append rate of the step just taken, the fold of the
 * new events into the stored tree, inclusion-proof time at that size, and bytes per event on disk.
 *
 * `npx tsx bench/audit-growth.ts [--sizes 100000,1000000,10000000] [--out file]`: the table, then a JSON line
 * (`{"auditGrowth":[…]}`), also written to `file` (`npm run bench` reads it into bench/results.json).
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendAudit } from '../src/audit/audit-store.js';
import { migrate, openDatabase } from '../src/store/database.js';
import { benchAuditLog, syntheticEvent } from './audit-fixture.js';
import { round, summarize } from './stats.js';

export interface AuditGrowthPoint {
  events: number;
  /** Batched appends (500 per transaction) per second over the step that reached this size. */
  appendsPerSecond: number;
  /** Folding that step's events into the stored tree. */
  foldSeconds: number;
  /** Fold cost per event of that step, in microseconds: flat means the tree grows linearly. */
  foldMicrosecondsPerEvent: number;
  inclusionProofMs: { p50: number; p99: number };
  bytesPerEvent: number;
}

const BATCH = 500;
const PROOFS = 2_000;

const args = process.argv.slice(2);
const flag = (name: string) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const sizes = (flag('--sizes') ?? '100000,1000000,10000000').split(',').map(Number);
const out = flag('--out');
if (sizes.some((n, i) => !Number.isInteger(n) || n <= 0 || (i > 0 && n <= (sizes[i - 1] as number)))) {
  throw new Error('--sizes: increasing whole numbers of events, comma-separated');
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stint-bench-audit-growth-'));
  const file = join(dir, 'stint.db');
  const store = openDatabase(`sqlite:${file}`);
  try {
    await migrate(store);
    const { log, macKeys } = benchAuditLog(store, 'bench.stint/audit-growth');
    const points: AuditGrowthPoint[] = [];
    let appended = 0;
    process.stdout.write(
      'audit trail growth (SQLite store)\n  events        appends/s  fold s  fold µs/event  proof p50 ms  proof p99 ms  bytes/event\n',
    );
    for (const size of sizes) {
      const step = size - appended;
      let t = performance.now();
      for (; appended < size; appended += BATCH) {
        const n = Math.min(BATCH, size - appended);
        await appendAudit(
          store.db,
          Array.from({ length: n }, (_, k) => syntheticEvent(appended + k)),
          macKeys,
        );
      }
      appended = size;
      const appendSeconds = (performance.now() - t) / 1000;
      t = performance.now();
      await log.build({ checkpoint: true });
      const foldSeconds = (performance.now() - t) / 1000;
      const samples: number[] = [];
      for (let k = 0; k < PROOFS; k++) {
        const index = Math.floor(Math.random() * size);
        const s = performance.now();
        const proof = await log.inclusionProof(index, size);
        samples.push(performance.now() - s);
        if (proof.length === 0 && size > 1) throw new Error('empty proof');
      }
      const proofs = summarize(samples.map((x) => x * 1000));
      const bytes = statSync(file).size + (statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0);
      const point: AuditGrowthPoint = {
        events: size,
        appendsPerSecond: Math.round(step / appendSeconds),
        foldSeconds: round(foldSeconds),
        foldMicrosecondsPerEvent: round((foldSeconds * 1e6) / step, 2),
        inclusionProofMs: { p50: round(proofs.p50 / 1000, 3), p99: round(proofs.p99 / 1000, 3) },
        bytesPerEvent: Math.round(bytes / size),
      };
      points.push(point);
      process.stdout.write(
        `  ${size.toLocaleString('en-US').padEnd(12)}  ${String(point.appendsPerSecond).padStart(9)}  ${String(point.foldSeconds).padStart(6)}  ${String(point.foldMicrosecondsPerEvent).padStart(13)}  ${String(point.inclusionProofMs.p50).padStart(12)}  ${String(point.inclusionProofMs.p99).padStart(12)}  ${String(point.bytesPerEvent).padStart(11)}\n`,
      );
    }
    const json = JSON.stringify({ auditGrowth: points });
    process.stdout.write(`${json}\n`);
    if (out) writeFileSync(out, json);
  } finally {
    store.db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
