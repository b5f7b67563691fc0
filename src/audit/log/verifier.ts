import { type Checkpoint, openCheckpoint } from './checkpoint.js';
import { type AuditLogErrorCode, isAuditLogError } from './errors.js';
import { Frontier } from './frontier.js';
import type { LeafMacKey } from './leaf-mac.js';
import { MacAudit } from './mac-audit.js';
import { bytesEqual, HASH_SIZE, leafHash } from './merkle.js';
import { verifyConsistency } from './proof-verification.js';
import { PurgeCoverage } from './purge-coverage.js';
import type { NoteVerifier } from './signed-note.js';

/**
 * Offline verification of an audit log: recompute every leaf from the events, fold them into the tree with a
 * `Frontier` (O(log n) memory, however long the log), and compare the root at each signed checkpoint's size.
 * The result names the FIRST problem in log order, or says how many events one signed checkpoint covers.
 *
 * Inputs are plain data so that any source can feed it: the server's database page by page, or an export
 * directory of day segments (read every checkpoint file first, then stream the segments in order).
 */

/** One event as stored or exported. */
export interface LeafRecord {
  /**
   * The sequence number the event carries. Take it from inside the event's canonical JSON when it is there:
   * then swapping two rows, or their sequence numbers, shows as REORDERED rather than only as a wrong root.
   */
  readonly index: number;
  /** The event's canonical JSON (RFC 8785) — the exact leaf input — or null once retention purged it. */
  readonly data: string | Uint8Array | null;
  /** The leaf hash recorded beside the event. Compared when data is present; the leaf itself when purged. */
  readonly leafHash?: Uint8Array | null;
  /** The leaf MAC stored beside it (leaf-mac.ts), checked when the verifier holds MAC keys. */
  readonly mac?: Uint8Array | null;
}

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

export interface VerifiedCheckpoint {
  readonly note: string;
  readonly checkpoint: Checkpoint;
  /** `<key name>+<key ID hex>` of each trusted key whose signature verified. */
  readonly signedBy: readonly string[];
}

/** A consistency proof offered between two of the checkpoints (by size); it must verify. */
export interface ConsistencyEvidence {
  readonly oldSize: number;
  readonly newSize: number;
  readonly proof: readonly Uint8Array[];
}

export interface VerifyOptions {
  /** The origin line of this deployment's log. */
  readonly origin: string;
  /** Trusted log keys (old and new during a rotation), e.g. `parseVkey(text)`. */
  readonly keys: readonly NoteVerifier[];
  /** Signed checkpoint notes, any order. Events are checked against every one whose size they reach. */
  readonly checkpoints: readonly string[];
  /** Optional proofs between checkpoints (sizes without a checkpoint are ignored). */
  readonly consistencyProofs?: readonly ConsistencyEvidence[];
  /**
   * Start part-way: the frontier hashes of the first `size` leaves (`rootPlan(size)` order) for an export that
   * begins there. They need no separate proof: a wrong one makes every later root wrong.
   */
  readonly start?: { readonly size: number; readonly hashes: readonly Uint8Array[] };
  /**
   * Stint's rule for purged events: every null body must be covered by a later `audit.purged` event in the
   * input (purge-coverage.ts), else ERASED. Off for the bare Merkle-log check.
   */
  readonly requirePurges?: boolean;
  /** Leaf MAC keys (derived from the signing key): every leaf from `macFrom` on must carry a valid MAC. */
  readonly macKeys?: readonly LeafMacKey[];
  readonly macFrom?: number;
}

export type VerifyReport =
  | {
      readonly ok: true;
      /** Leaves proven: the size of the largest checkpoint matched. */
      readonly size: number;
      readonly rootHash: Uint8Array;
      /** The checkpoint(s) of that size (several when signed separately, e.g. by old and new keys). */
      readonly checkpoints: readonly VerifiedCheckpoint[];
      /** How many checkpoints were matched against recomputed roots along the way. */
      readonly checkpointsMatched: number;
      readonly eventsRead: number;
      /** Events past the last checkpoint: consistent so far, but not yet covered by a signature. */
      readonly unanchored: number;
      /** With MAC keys: leaves whose MAC verified, and leaves MAC'd only by keys not given. */
      readonly macs?: { readonly checked: number; readonly unchecked: number };
    }
  | { readonly ok: false; readonly problem: VerifyProblem; readonly eventsRead: number };

export interface CheckpointTarget {
  readonly size: number;
  readonly rootHash: Uint8Array;
  readonly checkpoints: VerifiedCheckpoint[];
}

const SIGNATURE_CODES: readonly AuditLogErrorCode[] = [
  'NOTE_MALFORMED',
  'NOTE_INVALID_SIGNATURE',
  'NOTE_UNVERIFIED',
];

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

/**
 * Opens every checkpoint with the trusted keys and cross-checks them before any event is read: a bad
 * signature, another log's origin, two roots for one size, or a failing consistency proof is decided by the
 * checkpoints alone.
 */
export function prepareCheckpoints(
  options: VerifyOptions,
): { ok: true; targets: CheckpointTarget[] } | { ok: false; problem: VerifyProblem } {
  const bySize = new Map<number, CheckpointTarget>();
  for (const [i, note] of options.checkpoints.entries()) {
    let opened: ReturnType<typeof openCheckpoint>;
    try {
      opened = openCheckpoint(note, options.keys, options.origin);
    } catch (e) {
      if (!isAuditLogError(e)) throw e;
      const code: VerifyProblemCode = SIGNATURE_CODES.includes(e.code)
        ? 'BAD_SIGNATURE'
        : e.code === 'CHECKPOINT_WRONG_ORIGIN'
          ? 'WRONG_ORIGIN'
          : 'MALFORMED';
      return { ok: false, problem: { code, message: `checkpoint #${i + 1}: ${e.message}` } };
    }
    const { checkpoint } = opened;
    const verified: VerifiedCheckpoint = {
      note,
      checkpoint,
      signedBy: opened.note.verified.map((s) => `${s.name}+${hex8(s.keyId)}`),
    };
    const same = bySize.get(checkpoint.size);
    if (!same) {
      bySize.set(checkpoint.size, {
        size: checkpoint.size,
        rootHash: checkpoint.rootHash,
        checkpoints: [verified],
      });
    } else if (bytesEqual(same.rootHash, checkpoint.rootHash)) {
      same.checkpoints.push(verified);
    } else {
      return {
        ok: false,
        problem: {
          code: 'FORK',
          checkpointSize: checkpoint.size,
          message: `two validly signed checkpoints of size ${checkpoint.size} have different roots`,
        },
      };
    }
  }
  for (const evidence of options.consistencyProofs ?? []) {
    const older = bySize.get(evidence.oldSize);
    const newer = bySize.get(evidence.newSize);
    if (!older || !newer) continue;
    if (!verifyConsistency(older.size, newer.size, evidence.proof, older.rootHash, newer.rootHash)) {
      return {
        ok: false,
        problem: {
          code: 'FORK',
          checkpointSize: newer.size,
          message: `the checkpoint of size ${newer.size} is not consistent with the one of size ${older.size}`,
        },
      };
    }
  }
  return { ok: true, targets: [...bySize.values()].sort((a, b) => a.size - b.size) };
}

/**
 * The tree half of verification: the frontier and the checkpoints it must hit. A root mismatch does not stop
 * it at once while later checkpoints remain: if a later one matches, the earlier signed checkpoint described a
 * history the log no longer has, which is a fork (rollback and regrowth), not a mere corruption.
 */
export class TreeCheck {
  readonly frontier: Frontier;
  readonly #targets: readonly CheckpointTarget[];
  #next = 0;
  #matched: CheckpointTarget | null = null;
  #matchedCount = 0;
  #mismatch: { target: CheckpointTarget; from: number } | null = null;
  #problem: VerifyProblem | null = null;
  /** Where this input begins: an export that starts part-way has no leaves to blame before it. */
  readonly #startSize: number;

  constructor(targets: readonly CheckpointTarget[], start?: VerifyOptions['start']) {
    this.frontier = start ? Frontier.restore(start.size, start.hashes) : new Frontier();
    this.#startSize = this.frontier.size;
    this.#targets = targets;
    // Checkpoints below the starting point cannot be recomputed from this input.
    while (
      this.#next < targets.length &&
      (targets[this.#next] as CheckpointTarget).size < this.frontier.size
    ) {
      this.#next++;
    }
    this.check();
  }

  /** A final answer is known: stop hashing. */
  get decided(): boolean {
    return this.#problem !== null || (this.#mismatch !== null && this.#next >= this.#targets.length);
  }

  /** The size of the next checkpoint to hit, so parallel chunks can end exactly there. */
  get nextBoundary(): number | undefined {
    return this.#targets[this.#next]?.size;
  }

  get largestTarget(): number {
    return this.#targets.at(-1)?.size ?? 0;
  }

  appendLeaf(leaf: Uint8Array): void {
    this.frontier.append(leaf);
    this.check();
  }

  /** Records a CHANGED leaf: the first problem, unless an earlier root mismatch already is. */
  changed(index: number): void {
    if (this.#mismatch || this.#problem) {
      this.#settle();
      return;
    }
    this.#problem = {
      code: 'CHANGED',
      index,
      message: `event ${index} does not hash to the leaf hash recorded for it`,
    };
  }

  /** Compares the root with every checkpoint of exactly the current size. */
  check(): void {
    while (!this.decided && this.#targets[this.#next]?.size === this.frontier.size) {
      const target = this.#targets[this.#next++] as CheckpointTarget;
      const matches = bytesEqual(this.frontier.root(), target.rootHash);
      if (matches && this.#mismatch) {
        const earlier = this.#mismatch.target.size;
        this.#problem = {
          code: 'FORK',
          index: this.#mismatch.from,
          checkpointSize: earlier,
          message:
            `the events match the signed checkpoint of size ${target.size} but not the signed checkpoint of size ` +
            `${earlier}: the log was rewritten after ${earlier} was signed (rolled back and regrown)`,
        };
      } else if (matches) {
        this.#matched = target;
        this.#matchedCount++;
      } else {
        this.#mismatch ??= { target, from: this.#matched?.size ?? this.#startSize };
      }
    }
  }

  /** Turns a pending root mismatch into the final problem (called when something later went wrong too). */
  #settle(): void {
    if (this.#problem || !this.#mismatch) return;
    const { target, from } = this.#mismatch;
    this.#problem = {
      code: 'ROOT_MISMATCH',
      index: from,
      checkpointSize: target.size,
      message: `events ${from}..${target.size - 1} do not hash to the root of the signed checkpoint of size ${target.size}`,
    };
  }

  /** The problem found by the tree side, if any (settling a pending mismatch). */
  problem(): VerifyProblem | null {
    this.#settle();
    return this.#problem;
  }

  get matched(): CheckpointTarget | null {
    return this.#matched;
  }

  get matchedCount(): number {
    return this.#matchedCount;
  }
}

/**
 * The ordering half: each record must carry the next index. A skipped index opens a gap; reading on (indices
 * only, no hashing) tells a deletion (never comes: REMOVED) from a reordering (comes later: REORDERED).
 */
export class Sequencer {
  #expected: number;
  #gap: { expected: number; saw: number } | null = null;
  #problem: VerifyProblem | null = null;

  constructor(start: number) {
    this.#expected = start;
  }

  /** 'hash': the record is the next leaf; 'scan': keep feeding indices to close a gap; 'stop'. */
  next(index: number): 'hash' | 'scan' | 'stop' {
    if (this.#problem) return 'stop';
    if (this.#gap) {
      if (index !== this.#gap.expected) return 'scan';
      this.#problem = {
        code: 'REORDERED',
        index: this.#gap.expected,
        message: `event ${this.#gap.expected} comes after event ${this.#gap.saw}: events are out of order`,
      };
      return 'stop';
    }
    if (!Number.isSafeInteger(index) || index < 0) {
      this.#problem = {
        code: 'MALFORMED',
        index: this.#expected,
        message: `the event after ${this.#expected - 1} has no valid index`,
      };
      return 'stop';
    }
    if (index === this.#expected) {
      this.#expected++;
      return 'hash';
    }
    if (index < this.#expected) {
      this.#problem = {
        code: 'INSERTED',
        index: this.#expected,
        message: `an extra event claims index ${index} where event ${this.#expected} belongs`,
      };
      return 'stop';
    }
    this.#gap = { expected: this.#expected, saw: index };
    return 'scan';
  }

  /** Records a problem with the record itself (its payload), at the index it claimed. */
  malformed(index: number, message: string): void {
    this.#problem ??= { code: 'MALFORMED', index, message };
  }

  /** At the end of the input: an open gap was a deletion. */
  problem(): VerifyProblem | null {
    if (!this.#problem && this.#gap) {
      const { expected, saw } = this.#gap;
      this.#problem = {
        code: 'REMOVED',
        index: expected,
        message:
          saw - expected === 1
            ? `event ${expected} is missing (the next event is ${saw})`
            : `events ${expected}..${saw - 1} are missing (the next event is ${saw})`,
      };
    }
    return this.#problem;
  }
}

/** Checks a record's shape; returns why it is unusable, or null. */
export function recordDefect(record: LeafRecord): string | null {
  if (record.leafHash != null && record.leafHash.length !== HASH_SIZE) {
    return `event ${record.index} has a recorded leaf hash that is not 32 bytes`;
  }
  if (record.data === null && record.leafHash == null) {
    return `event ${record.index} has neither data nor a recorded leaf hash`;
  }
  return null;
}

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

/** Stint's per-leaf rules beyond the Merkle log: leaf MACs and purge coverage, as the options ask. */
export interface LeafChecks {
  readonly macs?: MacAudit;
  readonly purges?: PurgeCoverage;
}

export function leafChecks(options: VerifyOptions): LeafChecks {
  return {
    ...(options.macKeys ? { macs: new MacAudit(options.macKeys, options.macFrom ?? 0) } : {}),
    ...(options.requirePurges ? { purges: new PurgeCoverage() } : {}),
  };
}

/** Runs the per-leaf rules on a record, in log order. */
export function checkLeaf(checks: LeafChecks, record: LeafRecord, leaf: Uint8Array | null): void {
  checks.purges?.note(record.index, record.data);
  const hash = record.leafHash ?? leaf;
  if (checks.macs && hash) checks.macs.check(record.index, hash, record.mac);
}

/**
 * The tree checker for these checkpoints and starting point. A starting frontier of the wrong shape comes from
 * the input (an export's files), so it is reported as MALFORMED rather than thrown.
 */
export function startTree(
  targets: readonly CheckpointTarget[],
  start: VerifyOptions['start'],
): TreeCheck | VerifyProblem {
  try {
    return new TreeCheck(targets, start);
  } catch (e) {
    if (!isAuditLogError(e) || e.code !== 'INVALID_ARGUMENT') throw e;
    return { code: 'MALFORMED', message: `the starting frontier is unusable: ${e.message}` };
  }
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
