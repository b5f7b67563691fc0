import { prepareCheckpoints } from './checkpoint-targets.js';
import { checkLeaf, type LeafChecks, leafChecks, recordDefect } from './leaf-checks.js';
import { bytesEqual, leafHash } from './merkle.js';
import { Sequencer } from './sequencer.js';
import { startTree, TreeCheck } from './tree-check.js';
import type { VerifyProblem } from './verify-problem.js';
import type { LeafRecord, VerifyOptions, VerifyReport } from './verify-types.js';

/**
 * Offline verification of an audit log: recompute every leaf from the events, fold them into the tree with a
 * `Frontier` (O(log n) memory, however long the log), and compare the root at each signed checkpoint's size.
 * The result names the FIRST problem in log order, or says how many events one signed checkpoint covers.
 *
 * Inputs are plain data so that any source can feed it: the server's database page by page, or an export
 * directory of day segments (read every checkpoint file first, then stream the segments in order).
 */

/** The report, choosing the first problem in log order: tree problems lie before the record that stopped. */
export function finishReport(
  tree: TreeCheck,
  sequencer: Sequencer,
  eventsRead: number,
  checks: LeafChecks = {},
): VerifyReport {
  const size = tree.frontier.size;
  const problem =
    tree.problem() ??
    sequencer.problem() ??
    // Before MACs: a purge aimed at events it may not touch is named the same by every verifier.
    checks.purges?.badPurge() ??
    checks.macs?.problem() ??
    checks.purges?.problem(tree.matched?.size ?? 0) ??
    (size < tree.largestTarget
      ? ({
          code: 'MISSING',
          index: size,
          checkpointSize: tree.largestTarget,
          message: `the events end at ${size} but a signed checkpoint covers ${tree.largestTarget}: events are missing`,
        } satisfies VerifyProblem)
      : null);
  if (problem) return { ok: false, problem, eventsRead };
  const matched = tree.matched;
  if (!matched) {
    return {
      ok: false,
      eventsRead,
      problem: {
        code: 'NO_CHECKPOINT',
        message: 'no signed checkpoint covers these events: nothing is proven',
      },
    };
  }
  return {
    ok: true,
    size: matched.size,
    rootHash: matched.rootHash,
    checkpoints: matched.checkpoints,
    checkpointsMatched: tree.matchedCount,
    eventsRead,
    unanchored: size - matched.size,
    ...(checks.macs ? { macs: { checked: checks.macs.checked, unchecked: checks.macs.unchecked } } : {}),
  };
}

export interface LogVerifier {
  /** Feeds the next record in log order. Returns false once the outcome is decided: stop feeding. */
  push(record: LeafRecord): boolean;
  /** Ends the input and returns the report. */
  finish(): VerifyReport;
}

/**
 * Incremental single-thread verifier: push records as they are read, then `finish()`. About 400,000 events/s
 * on one core (two SHA-256 per event); `verifyLogParallel` spreads the hashing over worker threads.
 */
export function createLogVerifier(options: VerifyOptions): LogVerifier {
  const prepared = prepareCheckpoints(options);
  const tree = prepared.ok ? startTree(prepared.targets, options.start) : prepared.problem;
  if (!(tree instanceof TreeCheck)) {
    return { push: () => false, finish: () => ({ ok: false, problem: tree, eventsRead: 0 }) };
  }
  const sequencer = new Sequencer(tree.frontier.size);
  const checks = leafChecks(options);
  let eventsRead = 0;
  let stopped = tree.decided;
  return {
    push(record) {
      if (stopped) return false;
      eventsRead++;
      const step = sequencer.next(record.index);
      if (step !== 'hash') {
        stopped = step === 'stop';
        return !stopped;
      }
      const defect = recordDefect(record);
      if (defect) {
        sequencer.malformed(record.index, defect);
        stopped = true;
        return false;
      }
      let leaf: Uint8Array;
      if (record.data === null) {
        leaf = record.leafHash as Uint8Array;
      } else {
        leaf = leafHash(record.data);
        if (record.leafHash && !bytesEqual(leaf, record.leafHash)) tree.changed(record.index);
      }
      checkLeaf(checks, record, leaf);
      if (!tree.decided) tree.appendLeaf(leaf);
      stopped = tree.decided;
      return !stopped;
    },
    finish() {
      return finishReport(tree, sequencer, eventsRead, checks);
    },
  };
}

/** Verifies a whole stream on the calling thread. */
export async function verifyLog(
  events: AsyncIterable<LeafRecord> | Iterable<LeafRecord>,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const verifier = createLogVerifier(options);
  if (Symbol.asyncIterator in events) {
    for await (const record of events) if (!verifier.push(record)) break;
  } else {
    // A plain iterable is read without a promise per record.
    for (const record of events) if (!verifier.push(record)) break;
  }
  return verifier.finish();
}
