import type { Logger } from '../logger.js';
import { createObservedHistogram, type ObservedHistogram } from '../metrics/observed-histogram.js';
import type { Job, MetricSource, Sweep } from '../module.js';
import type { StintDatabase } from '../store/database.js';

/** A sweep's run: milliseconds for due work, up to a minute for a reconciliation waiting on a slow target. */
export const SWEEP_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60] as const;

interface Lane {
  sweep: Sweep;
  everyMs: number;
  lastStarted: number;
  running: Promise<void> | null;
  /** How long each run took, and how many failed: the lane's figures for the metrics exporter. */
  durations: ObservedHistogram;
  failures: number;
}

/**
 * The one loop that runs every module's sweeps. Each sweep is a lane of its own: at most one run of it at once,
 * started when its interval has passed, so a slow one (a reconciliation waiting on a target that is down) never
 * holds up another (expiries). While the store is down no sweep starts: due work stays due in the store, and
 * the loop catches up the moment the store answers again, without waiting for the next tick.
 */
export function createSweepLoop(
  deps: { store: StintDatabase; logger: Logger; tickMs?: number },
  sweeps: readonly Sweep[],
) {
  const { store, logger } = deps;
  const tickMs = deps.tickMs ?? 500;
  const lanes: Lane[] = sweeps.map((sweep) => ({
    sweep,
    everyMs: sweep.everyMs ?? tickMs,
    lastStarted: Number.NEGATIVE_INFINITY,
    running: null,
    durations: createObservedHistogram(SWEEP_BUCKETS_SECONDS),
    failures: 0,
  }));
  let shutdown = new AbortController();
  let interval: NodeJS.Timeout | undefined;
  let stopWatchingStore = () => {};

  function runLane(lane: Lane): Promise<void> {
    lane.lastStarted = Date.now();
    // Called by hand after the loop stopped (a test acting for a server that missed its work): not cut short.
    const signal = shutdown.signal.aborted ? new AbortController().signal : shutdown.signal;
    const started = performance.now();
    lane.running ??= lane.sweep
      .run(signal)
      .then(
        () => {},
        (err: unknown) => {
          lane.failures += 1;
          logger.error({ err, sweep: lane.sweep.name }, `sweep ${lane.sweep.name} failed`);
        },
      )
      .finally(() => {
        lane.durations.observe((performance.now() - started) / 1000);
        lane.running = null;
      });
    return lane.running;
  }

  /** Starts every lane whose interval has passed; `all` starts every lane not already running. */
  function tick(all = false): Promise<void> {
    if (!store.health.available()) return Promise.resolve();
    const now = Date.now();
    return Promise.all(
      lanes.filter((l) => all || now - l.lastStarted >= l.everyMs).map((l) => runLane(l)),
    ).then(() => {});
  }

  /** Every sweep once, in module order, each awaited: the catch-up a start (or a test) wants. */
  async function runAll(): Promise<void> {
    if (!store.health.available()) return;
    for (const lane of lanes) await runLane(lane);
  }

  const job: Job = {
    async start() {
      shutdown = new AbortController();
      await runAll();
      stopWatchingStore = store.health.onChange((up) => {
        if (!up) {
          // The cause, when the store gave one (STORE_FULL: SQLITE_FULL, ENOSPC), is what the operator must fix.
          const problem = store.health.problem();
          if (problem) {
            logger.error(
              { code: problem.code, ...problem.details },
              `store unavailable: ${problem.message}; refusing work (${problem.code}) until it is fixed`,
            );
          } else {
            logger.error({}, 'store unavailable: refusing work (STORE_UNAVAILABLE) until it answers again');
          }
          return;
        }
        // Grants whose window ended during the outage are overdue now: end them at once, not at the next tick.
        logger.warn({}, 'store answers again: catching up on overdue work');
        void tick(true);
      });
      interval = setInterval(() => void tick(), tickMs);
      interval.unref();
    },
    /** No new runs; runs in flight are told to stop early and are awaited. */
    async stop() {
      stopWatchingStore();
      clearInterval(interval);
      shutdown.abort();
      await Promise.all(lanes.map((l) => l.running));
    },
  };

  const metrics: MetricSource[] = [
    {
      name: 'stint_sweep_duration_seconds',
      help: 'How long each run of a sweep took on this server, by sweep',
      type: 'histogram',
      buckets: SWEEP_BUCKETS_SECONDS,
      collect: () => lanes.map((l) => l.durations.sample({ sweep: l.sweep.name })),
    },
    {
      name: 'stint_sweep_failures_total',
      help: 'Runs of a sweep that failed on this server (retried next turn), by sweep',
      type: 'counter',
      collect: () => lanes.map((l) => ({ labels: { sweep: l.sweep.name }, value: l.failures })),
    },
    {
      name: 'stint_sweep_last_started_age_seconds',
      help: 'Seconds since a sweep last started on this server (grows while the store is down), by sweep',
      type: 'gauge',
      collect: () =>
        lanes
          .filter((l) => Number.isFinite(l.lastStarted))
          .map((l) => ({ labels: { sweep: l.sweep.name }, value: (Date.now() - l.lastStarted) / 1000 })),
    },
  ];

  return { job, runAll, metrics };
}
