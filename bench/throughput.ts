import type { StoreKind } from '../test/support/stores.js';
import { buildBenchApp, expectStatus, untilActive } from './app.js';
import { createMemoryProvider } from './memory-provider.js';
import { MANAGER, REQUESTER, RESOURCE } from './policy.js';
import { round, runBounded, type Summary, summarize } from './stats.js';

export interface Throughput {
  store: StoreKind;
  cycles: number;
  concurrency: number;
  /** `http`: real HTTP on loopback, as issue 27's floor asks; `inject`: Fastify's in-process inject. */
  transport: 'inject' | 'http';
  wallMs: number;
  cyclesPerSecond: number;
  /** One cycle: POST /v1/requests (manager tier) then POST approve, which activates the grant. */
  cycle: Summary;
  create: Summary;
  approve: Summary;
  /**
   * CPU time of this process (user + system) per cycle. Steadier than cycles/s on a shared machine, and
   * 1000 / cpuMsPerCycle is the rate one core could sustain. The PostgreSQL store's own CPU is not in it.
   */
  cpuMsPerCycle: number;
  /** Approvals answered before activation (issuance runs after commit); counted once active. */
  sweeperWonIssuance: number;
  /** Expiry timers armed when the run ended (one per active grant). */
  armedTimers: number;
}

const WARMUP = 100;

/**
 * Request+approve cycles per second through app.inject or real HTTP, `concurrency` cycles in flight. The provider is the
 * in-memory double (no network I/O), so this is Stint's own ceiling; the real provider's cost is figure 1.
 */
export async function measureThroughput(
  kind: StoreKind,
  cycles: number,
  concurrency: number,
  transport: 'inject' | 'http' = 'inject',
): Promise<Throughput> {
  const bench = await buildBenchApp(kind, () => () => createMemoryProvider(), {
    ...(transport === 'http' ? { listen: { connections: concurrency } } : {}),
  });
  const cycle: number[] = [];
  const create: number[] = [];
  const approve: number[] = [];
  let raced = 0;
  const once = async (i: number, record: boolean) => {
    const t0 = performance.now();
    const created = await bench.post(REQUESTER, '/v1/requests', {
      resource: RESOURCE,
      role: 'admin',
      reason: `bench cycle ${i}`,
      duration: '4h',
    });
    const t1 = performance.now();
    expectStatus(created, 201, 'create');
    const approved = await bench.post(MANAGER, `/v1/requests/${created.body.id}/approve`, {});
    expectStatus(approved, 200, 'approve');
    const active = await untilActive(bench, MANAGER, approved);
    const t2 = performance.now();
    if (record) {
      if (active.raced) raced++;
      cycle.push(t2 - t0);
      create.push(t1 - t0);
      approve.push(t2 - t1);
    }
  };
  try {
    await runBounded(WARMUP, concurrency, (i) => once(i, false));
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    await runBounded(cycles, concurrency, (i) => once(i, true));
    const cpu = process.cpuUsage(cpuBefore);
    const wallMs = performance.now() - started;
    return {
      store: kind,
      cycles,
      concurrency,
      transport,
      wallMs: round(wallMs),
      cyclesPerSecond: round((cycles / wallMs) * 1000),
      sweeperWonIssuance: raced,
      cpuMsPerCycle: round((cpu.user + cpu.system) / 1000 / cycles, 2),
      cycle: summarize(cycle),
      create: summarize(create),
      approve: summarize(approve),
      armedTimers: bench.stint.grants.scheduler.size(),
    };
  } finally {
    await bench.close();
  }
}
