import { compileChild, runChild } from './rss.js';
import type { RssReport } from './rss-child.js';
import { round } from './stats.js';

export interface GrantGrowthPoint {
  grants: number;
  /** The kernel's high-water mark of the server process with that many active grants. */
  peakRssMb: number;
  /** Live heap after a full GC, all grants active. */
  retainedHeapMb: number;
  /** Grants made active through the API per second while filling (the cost of the next one, roughly). */
  activationsPerSecond: number;
  armedTimers: number;
}

/** 100,000 grants through the API take a few minutes on this machine kind; the child is given ten. */
const GROWTH_TIMEOUT_MS = 600_000;

/**
 * How the server's memory and its rate of activating grants move from 1,000 to 100,000 active grants: the memory
 * figure's child (the real app, SQLite, in-memory provider, plain node) run at each size in a process of its own.
 */
export async function measureGrantGrowth(
  sizes: readonly number[],
  concurrency: number,
): Promise<GrantGrowthPoint[]> {
  const child = await compileChild();
  try {
    const points: GrantGrowthPoint[] = [];
    for (const grants of sizes) {
      const r: RssReport = await runChild(child, grants, concurrency, [], GROWTH_TIMEOUT_MS);
      points.push({
        grants,
        peakRssMb: r.vmHwmMb,
        retainedHeapMb: r.retainedHeapMb,
        activationsPerSecond: round(grants / r.seconds),
        armedTimers: r.armedTimers,
      });
    }
    return points;
  } finally {
    child.cleanup();
  }
}

export function renderGrantGrowth(points: readonly GrantGrowthPoint[]): string {
  return [
    'Growth with active grants (SQLite store, in-memory provider, server in a child process)',
    '  grants     peak RSS MB  live heap MB  activations/s  armed timers',
    ...points.map(
      (p) =>
        `  ${p.grants.toLocaleString('en-US').padEnd(9)}  ${String(p.peakRssMb).padStart(11)}  ${String(p.retainedHeapMb).padStart(12)}  ${String(p.activationsPerSecond).padStart(13)}  ${String(p.armedTimers).padStart(12)}`,
    ),
  ].join('\n');
}
