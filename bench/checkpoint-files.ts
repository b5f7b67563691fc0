/**
 * What the write-once WORM checkpoint files (temp file + fsync + link + directory fsync) cost audit appends
 * (issue 15): durable single-event appends per second on SQLite while the builder folds every 250 ms and signs a
 * checkpoint once a second, as the server does, without a checkpoint folder and with one. (Signing on every
 * builder turn instead — 0 ms interval — writes dozens of files a second, which no server does.) The files are written by the builder after its commit, never on a request's path, so the difference
 * should stay within noise; the figure shows it.
 *
 * The two kinds of run alternate (ABBA) for ROUNDS rounds on fresh stores; each round gives one paired cost, and
 * the figure is their median, so a neighbour's burst of load during one run does not decide it.
 *
 * `npx tsx bench/checkpoint-files.ts [events] [rounds]` (default 10,000 events a run, 5 rounds) prints the table
 * and a JSON line.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditLog } from '../src/audit/audit-log.js';
import { appendAudit } from '../src/audit/audit-store.js';
import { writeCheckpointOnce } from '../src/audit/checkpoint-files.js';
import { leafMacKeys } from '../src/audit/log/leaf-mac.js';
import { generateNoteKey, parseSkey } from '../src/audit/log/signed-note.js';
import { silentLogger } from '../src/logger.js';
import { migrate, openDatabase } from '../src/store/database.js';

const numbers = process.argv.slice(2).filter((a) => /^\d+$/.test(a));
const events = Number(numbers[0] ?? 10_000);
const ROUNDS = Number(numbers[1] ?? 5);
const signer = parseSkey(generateNoteKey('bench.stint/audit').skey);
// The server's writer appends with the log's MAC keys.
const macKeys = leafMacKeys([signer]);

const event = (i: number) => ({
  at: new Date(1_790_000_000_000 + i * 1000),
  actor: `user${i % 97}`,
  action: 'grant.activated',
  requestId: `req_${(i * 7919).toString(16).padStart(16, '0')}`,
  target: { resource: 'prod-db', role: 'admin' },
  details: { expiresAt: new Date(1_790_000_000_000 + i * 1000 + 7_200_000).toISOString() },
});

async function appendsPerSecond(
  withFolder: boolean,
): Promise<{ rate: number; files: number; seconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'stint-bench-worm-'));
  const store = openDatabase(`sqlite:${join(dir, 'stint.db')}`);
  await migrate(store);
  const checkpointDir = withFolder ? join(dir, 'checkpoints') : null;
  const log = createAuditLog({
    store,
    clock: () => new Date(),
    logger: silentLogger,
    origin: signer.name,
    signers: [signer],
    checkpointDir,
    // The server's default: a checkpoint at most once a second while events arrive (STINT's builder cadence).
    checkpointIntervalMs: 1000,
  });
  let stop = false;
  // The server's builder, on its 250 ms cadence, signing at every turn that found new events.
  const builder = (async () => {
    while (!stop) {
      await log.build();
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  const t = performance.now();
  for (let i = 0; i < events; i++) {
    await appendAudit(store.db, event(i), macKeys);
    // A server yields between requests; without this the embedded store's promises never let a timer run.
    await new Promise((r) => setImmediate(r));
  }
  const seconds = (performance.now() - t) / 1000;
  const rate = events / seconds;
  stop = true;
  await builder;
  const files = checkpointDir ? readdirSync(checkpointDir).length : 0;
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return { rate, files, seconds };
}

async function writeOnceMs(): Promise<{ p50: number; p99: number; mean: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'stint-bench-worm-'));
  const note = `${signer.name}\n1\n${'A'.repeat(43)}=\n\n— ${signer.name} ${'B'.repeat(88)}\n`;
  const samples: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    await writeCheckpointOnce(dir, i, note);
    samples.push(performance.now() - t);
  }
  rmSync(dir, { recursive: true, force: true });
  samples.sort((a, b) => a - b);
  const at = (p: number) => Number((samples[Math.floor((p / 100) * (samples.length - 1))] ?? 0).toFixed(2));
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  return { p50: at(50), p99: at(99), mean: Number(mean.toFixed(2)) };
}

const median = (values: readonly number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  const without: number[] = [];
  const withFiles: number[] = [];
  const costs: number[] = [];
  let files = 0;
  const filesPerSecond: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const rate = { without: 0, with: 0 };
    for (const folder of round % 2 ? [true, false] : [false, true]) {
      const run = await appendsPerSecond(folder);
      if (folder) {
        rate.with = run.rate;
        files = run.files;
        filesPerSecond.push(run.files / run.seconds);
      } else rate.without = run.rate;
    }
    without.push(rate.without);
    withFiles.push(rate.with);
    costs.push(100 * (1 - rate.with / rate.without));
  }
  const writeOnce = await writeOnceMs();
  const results = {
    events,
    rounds: ROUNDS,
    appendsPerSecondWithoutFolder: Math.round(median(without)),
    appendsPerSecondWithWriteOnceFiles: Math.round(median(withFiles)),
    checkpointFilesWritten: files,
    costPercent: Number(median(costs).toFixed(1)),
    roundsPercent: costs.map((c) => Number(c.toFixed(1))),
    writeOnceMs: writeOnce,
    /**
     * A bound that load noise cannot blur: the share of the run spent writing files (files a second × a
     * write's mean time), as if every write stalled appends outright. Most of a write is fsync in libuv's
     * thread pool, so appends go on meanwhile.
     */
    upperBoundPercent: Number(((median(filesPerSecond) * writeOnce.mean) / 10).toFixed(2)),
    method: `${ROUNDS} rounds of ${events.toLocaleString('en-US')} single-event appends without and with the folder, alternated; cost = median of the rounds' paired costs`,
  };
  console.log('write-once WORM checkpoint files (SQLite store, a checkpoint a second, as the server signs)');
  console.log(`  appends/s, no checkpoint folder        ${results.appendsPerSecondWithoutFolder}`);
  console.log(
    `  appends/s, write-once files            ${results.appendsPerSecondWithWriteOnceFiles} (${files} files)`,
  );
  console.log(
    `  cost                                   ${results.costPercent} % (rounds ${results.roundsPercent.join(' / ')}; target < 10 %)`,
  );
  console.log(
    `  one file written once, p50 / p99       ${results.writeOnceMs.p50} / ${results.writeOnceMs.p99} ms`,
  );
  console.log(
    `  bound: files a second × mean write     ${results.upperBoundPercent} % of the run's time (target < 10 %)`,
  );
  console.log(JSON.stringify(results));
}

await main();
