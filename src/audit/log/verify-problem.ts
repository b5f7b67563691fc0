/**
 * What the verifier can find wrong with a log, in the words a report gives. Below the verifier and its per-leaf
 * checks (mac-audit.ts, purge-coverage.ts), which each name their own problem.
 */

export type VerifyProblemCode =
  /** An event's data no longer hashes to the leaf hash recorded for it. */
  | 'CHANGED'
  /** An index is skipped and never comes: an event was deleted. */
  | 'REMOVED'
  /** The events end before the largest signed checkpoint: the log was truncated or rolled back. */
  | 'MISSING'
  /** An event repeats an index already seen: an extra row. */
  | 'INSERTED'
  /** An index is skipped but comes later: events are out of order. */
  | 'REORDERED'
  /** A checkpoint with no valid signature by a trusted key, a failing one, or a note that does not parse. */
  | 'BAD_SIGNATURE'
  /** A validly signed checkpoint of another log (origin line). */
  | 'WRONG_ORIGIN'
  /** Input that is not what the format promises (bad index type, neither data nor leaf hash, bad body). */
  | 'MALFORMED'
  /** The events up to a checkpoint's size do not hash to its root. */
  | 'ROOT_MISMATCH'
  /** Two validly signed checkpoints that cannot both be true: same size and different roots, a failing
   *  consistency proof between them, or events that match a later checkpoint but not an earlier one. */
  | 'FORK'
  /** Nothing signed covers the events: nothing is proven. */
  | 'NO_CHECKPOINT'
  /** An event's body is gone, but no recorded purge covers it: someone blanked what it said. */
  | 'ERASED'
  /** A purge event whose range breaks the purge rules: younger than the retention in force, or held. */
  | 'BAD_PURGE'
  /** An event without a valid leaf MAC by a Stint server key: appended (or rewritten) by a store writer. */
  | 'FORGED'
  /** Fewer than the required external witnesses cosigned any verified checkpoint. */
  | 'UNWITNESSED';

export interface VerifyProblem {
  readonly code: VerifyProblemCode;
  readonly message: string;
  /** The first leaf index concerned (for ROOT_MISMATCH: the first index after the last matching checkpoint). */
  readonly index?: number;
  /** The size of the checkpoint concerned. */
  readonly checkpointSize?: number;
}
