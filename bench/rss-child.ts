/**
 * Run in a child process by rss.ts, so the RSS is this server's alone: the real app on SQLite with the in-memory
 * provider, `count` auto-approved grants made active through the API and kept active (8 h windows).
 */
import { readFileSync } from 'node:fs';
import { appliedHeapFlags } from '../src/server/heap-profile.js';
import { buildBenchApp, expectStatus, untilActive } from './app.js';
import { createMemoryProvider } from './memory-provider.js';
import { REQUESTER, RESOURCE } from './policy.js';
import { round, runBounded, sleep } from './stats.js';

export interface RssReport {
  grants: number;
  activeInStore: number;
  armedTimers: number;
  liveOnProvider: number;
  /** RSS once the app is built, before any grant. */
  baselineMb: number;
  /** Highest process.memoryUsage.rss() seen, sampled every 10 ms. */
  sampledPeakMb: number;
  /** The kernel's high-water mark (VmHWM in /proc/self/status): the true peak. */
  vmHwmMb: number;
  /** After the run and a sweep. */
  finalRssMb: number;
  /** Live JS heap after a full GC once the grants are active (and the peak read): what is really kept. */
  retainedHeapMb: number;
  seconds: number;
  /** Node flags the child ran with (none: as `node dist/cli/main.js` runs). */
  nodeFlags: string[];
  /** The flags the server's heap profile set itself (STINT_HEAP, src/server/heap-profile.ts). */
  heapFlags: string[];
  /** STINT_HEAP as the child saw it. */
  heapProfile: string;
}

const MB = 1024 * 1024;

/**
 * The live heap after a full collection; rss.ts starts the child with --expose-gc so it can ask for one. Only
 * called after the peak is read: a forced GC before the run would change the very heuristics being measured.
 */
function retainedHeap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return Number.NaN;
  gc();
  return process.memoryUsage().heapUsed;
}

function vmHwmBytes(): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 10_000);
  const concurrency = Number(process.argv[3] ?? 8);
  const provider = createMemoryProvider();
  const bench = await buildBenchApp('sqlite', () => () => provider);
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 10);
  const baseline = process.memoryUsage.rss();
  const started = performance.now();
  await runBounded(count, concurrency, async (i) => {
    const created = await bench.post(REQUESTER, '/v1/requests', {
      resource: RESOURCE,
      role: 'read',
      reason: `bench memory ${i}`,
      duration: '4h',
    });
    expectStatus(created, 201, 'create');
    await untilActive(bench, REQUESTER, created);
  });
  const seconds = (performance.now() - started) / 1000;
  // A sweep over the store as the server's interval would run it, then a moment for anything deferred.
  await bench.stint.sweep();
  await sleep(500);
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  const row = await bench.stint.deps.store.db
    .selectFrom('requests')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('state', '=', 'active')
    .executeTakeFirstOrThrow();
  const finalRss = process.memoryUsage.rss();
  const hwm = vmHwmBytes();
  const heap = retainedHeap();
  const report: RssReport = {
    grants: count,
    activeInStore: Number(row.n),
    armedTimers: bench.stint.grants.scheduler.size(),
    liveOnProvider: provider.live,
    baselineMb: round(baseline / MB),
    sampledPeakMb: round(peak / MB),
    vmHwmMb: round(hwm / MB),
    finalRssMb: round(finalRss / MB),
    retainedHeapMb: round(heap / MB),
    seconds: round(seconds),
    nodeFlags: process.execArgv.filter((f) => f !== '--expose-gc'),
    heapFlags: [...appliedHeapFlags()],
    heapProfile: process.env.STINT_HEAP ?? 'lean',
  };
  await bench.close();
  process.send?.(report);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`rss child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
