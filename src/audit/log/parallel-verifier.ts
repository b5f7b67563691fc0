import { prepareCheckpoints } from './checkpoint-targets.js';
import { ChunkBuilder, type ChunkResult } from './chunk.js';
import { AuditLogError } from './errors.js';
import { createHashPool, type HashPool } from './hash-pool.js';
import { checkLeaf, leafChecks, recordDefect } from './leaf-checks.js';
import { compactRange, HASH_SIZE } from './merkle.js';
import { Sequencer } from './sequencer.js';
import { startTree, TreeCheck } from './tree-check.js';
import { finishReport } from './verifier.js';
import type { LeafRecord, VerifyOptions, VerifyReport } from './verify-types.js';

export interface ParallelVerifyOptions extends VerifyOptions {
  /** A pool to reuse across runs (the caller closes it); otherwise one is made and closed here. */
  readonly pool?: HashPool;
  /** Threads for a pool made here; default one per core. */
  readonly workers?: number;
  /** Leaves per task, a power of two (default 4096): large enough that messaging is noise, small enough that
   *  a few in flight per worker keep memory flat. */
  readonly chunkSize?: number;
}

const MORE = 0;
const STOP = 1;
const DRAIN = 2;
type Step = typeof MORE | typeof STOP | typeof DRAIN;

function isAsyncIterable<T>(x: AsyncIterable<T> | Iterable<T>): x is AsyncIterable<T> {
  return typeof (x as AsyncIterable<T>)[Symbol.asyncIterator] === 'function';
}

interface InFlight {
  readonly start: number;
  readonly count: number;
  readonly result: Promise<ChunkResult>;
}

/**
 * Same checks and report as `verifyLog`, with leaf and subtree hashing done by worker threads. The calling
 * thread reads the input, checks indices, packs chunks and folds each chunk's few subtree hashes into the
 * frontier in order, so checkpoints are still checked in log order and the first problem is still the first.
 * Chunks end at checkpoint sizes as well as at chunk boundaries, so every checkpoint's root is computed
 * exactly.
 */
export async function verifyLogParallel(
  events: AsyncIterable<LeafRecord> | Iterable<LeafRecord>,
  options: ParallelVerifyOptions,
): Promise<VerifyReport> {
  const chunkSize = options.chunkSize ?? 4096;
  if (!Number.isInteger(Math.log2(chunkSize)) || chunkSize < 1) {
    throw new AuditLogError('INVALID_ARGUMENT', `chunkSize must be a power of two, got ${chunkSize}`);
  }
  const prepared = prepareCheckpoints(options);
  if (!prepared.ok) return { ok: false, problem: prepared.problem, eventsRead: 0 };
  const tree = startTree(prepared.targets, options.start);
  if (!(tree instanceof TreeCheck)) return { ok: false, problem: tree, eventsRead: 0 };
  const sequencer = new Sequencer(tree.frontier.size);
  const checks = leafChecks(options);
  const boundaries = prepared.targets.map((t) => t.size);
  let nextBoundary = 0;

  const pool = options.pool ?? createHashPool(options.workers);
  const inflight: InFlight[] = [];
  const maxInflight = Math.max(2, 2 * pool.workers);
  const builder = new ChunkBuilder(tree.frontier.size, chunkSize);
  let chunkEnd = 0;
  let eventsRead = 0;

  // Each chunk ends at the next multiple of chunkSize or the next checkpoint size, whichever comes first.
  const planEnd = (): void => {
    const at = builder.end;
    while (nextBoundary < boundaries.length && (boundaries[nextBoundary] as number) <= at) nextBoundary++;
    const aligned = (Math.floor(at / chunkSize) + 1) * chunkSize;
    chunkEnd = Math.min(aligned, boundaries[nextBoundary] ?? aligned);
  };
  const dispatch = (): void => {
    if (builder.count === 0) return;
    const task = builder.take();
    inflight.push({ start: task.start, count: task.count, result: pool.run(task) });
    planEnd();
  };
  const applyOldest = async (): Promise<void> => {
    const job = inflight.shift() as InFlight;
    const result = await job.result;
    if (tree.decided) return;
    if (result.changedAt >= 0) {
      tree.changed(job.start + result.changedAt);
      return;
    }
    compactRange(job.start, job.start + job.count).forEach((node, i) => {
      tree.frontier.appendSubtree(node.level, result.hashes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE));
    });
    tree.check();
  };
  /** Takes one record on the reading thread; synchronous so a plain iterable costs no promise per record. */
  const accept = (record: LeafRecord): Step => {
    if (tree.decided) return STOP;
    eventsRead++;
    const step = sequencer.next(record.index);
    if (step === 'scan') return MORE;
    if (step === 'stop') return STOP;
    const defect = recordDefect(record);
    if (defect) {
      sequencer.malformed(record.index, defect);
      return STOP;
    }
    checkLeaf(checks, record, null);
    builder.add(record);
    if (builder.end !== chunkEnd) return MORE;
    dispatch();
    return inflight.length >= maxInflight ? DRAIN : MORE;
  };

  planEnd();
  try {
    if (isAsyncIterable(events)) {
      for await (const record of events) {
        const step = accept(record);
        if (step === STOP) break;
        if (step === DRAIN) while (inflight.length >= maxInflight) await applyOldest();
      }
    } else {
      for (const record of events) {
        const step = accept(record);
        if (step === STOP) break;
        if (step === DRAIN) while (inflight.length >= maxInflight) await applyOldest();
      }
    }
    dispatch();
    while (inflight.length > 0) await applyOldest();
  } finally {
    // Results nobody will await (an error above) must not surface as unhandled rejections.
    for (const job of inflight) job.result.catch(() => {});
    if (!options.pool) await pool.close();
  }
  return finishReport(tree, sequencer, eventsRead, checks);
}
