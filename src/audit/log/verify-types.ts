import type { Checkpoint } from './checkpoint.js';
import type { LeafMacKey } from './leaf-mac.js';
import type { NoteVerifier } from './signed-note.js';
import type { VerifyProblem } from './verify-problem.js';

/** The offline verifier's inputs (records in log order, options) and its report. */

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
