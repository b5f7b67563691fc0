import { encodeBase64 } from '../log/base64.js';
import { type Checkpoint, openCheckpoint } from '../log/checkpoint.js';
import { isAuditLogError } from '../log/errors.js';
import { canonicalize, isCanonical } from '../log/jcs.js';
import { bytesEqual, leafHash } from '../log/merkle.js';
import { verifyConsistency, verifyInclusion } from '../log/proof-verification.js';
import type { NoteVerifier } from '../log/signed-note.js';
import type { VerifyProblemCode } from '../log/verify-problem.js';
import { decodeHash, decodeHashes, isCount } from './export-format.js';

/**
 * Self-contained proofs, checkable offline with nothing but the log's public key (docs/audit.md):
 *
 * - inclusion: this event is leaf `seq` of the tree whose signed checkpoint is `checkpoint`;
 * - consistency: the tree of `oldCheckpoint` is a prefix of the tree of `newCheckpoint`.
 *
 * The event travels as a JSON object; its leaf is SHA-256(0x00 ‖ JCS(event)), and JCS is what the server hashed,
 * so anyone can recompute it.
 */
export const PROOF_FORMAT = 'stint-audit-proof/1';

export interface InclusionBundle {
  readonly format: typeof PROOF_FORMAT;
  readonly kind: 'inclusion';
  readonly origin: string;
  readonly seq: number;
  readonly size: number;
  readonly leafHash: string;
  /** The canonical event, or null when retention purged it: then only its leaf hash is proven. */
  readonly event: Record<string, unknown> | null;
  readonly proof: readonly string[];
  readonly checkpoint: string;
}

export interface ConsistencyBundle {
  readonly format: typeof PROOF_FORMAT;
  readonly kind: 'consistency';
  readonly origin: string;
  readonly old: number;
  readonly new: number;
  readonly proof: readonly string[];
  readonly oldCheckpoint: string;
  readonly newCheckpoint: string;
}

export type ProofBundle = InclusionBundle | ConsistencyBundle;

/** The origin line of a note, unverified: for labelling a bundle, never for trusting it. */
export function noteOrigin(note: string): string {
  return note.slice(0, Math.max(0, note.indexOf('\n')));
}

export class BundleError extends Error {
  override readonly name = 'BundleError';
}

/** A bundle from the server's inclusion answer; the body must already be canonical (what was hashed). */
export function inclusionBundle(answer: {
  seq: number;
  size: number;
  leafHash: string;
  body: string | null;
  proof: readonly string[];
  checkpoint: string;
}): InclusionBundle {
  let event: Record<string, unknown> | null = null;
  if (answer.body !== null) {
    // Round-tripping through an object must give the same bytes back, or the bundle would prove another leaf.
    if (!isCanonical(answer.body))
      throw new BundleError(`the body of event ${answer.seq} is not canonical JSON`);
    event = JSON.parse(answer.body) as Record<string, unknown>;
  }
  return {
    format: PROOF_FORMAT,
    kind: 'inclusion',
    origin: noteOrigin(answer.checkpoint),
    seq: answer.seq,
    size: answer.size,
    leafHash: answer.leafHash,
    event,
    proof: [...answer.proof],
    checkpoint: answer.checkpoint,
  };
}

export function consistencyBundle(answer: {
  old: number;
  new: number;
  proof: readonly string[];
  oldCheckpoint: string;
  newCheckpoint: string;
}): ConsistencyBundle {
  return {
    format: PROOF_FORMAT,
    kind: 'consistency',
    origin: noteOrigin(answer.newCheckpoint),
    old: answer.old,
    new: answer.new,
    proof: [...answer.proof],
    oldCheckpoint: answer.oldCheckpoint,
    newCheckpoint: answer.newCheckpoint,
  };
}

export type ProofCheckCode = Extract<
  VerifyProblemCode,
  'MALFORMED' | 'BAD_SIGNATURE' | 'WRONG_ORIGIN' | 'CHANGED' | 'ROOT_MISMATCH' | 'FORK'
>;

export interface SignedBy {
  readonly size: number;
  readonly rootHash: string;
  /** `<key name>+<key ID hex>` of each trusted key that signed. */
  readonly signedBy: readonly string[];
}

export type ProofCheck =
  | {
      readonly ok: true;
      readonly kind: 'inclusion';
      readonly seq: number;
      readonly eventId: string | null;
      readonly checkpoint: SignedBy;
    }
  | { readonly ok: true; readonly kind: 'consistency'; readonly old: SignedBy; readonly new: SignedBy }
  | { readonly ok: false; readonly code: ProofCheckCode; readonly message: string };

const invalid = (code: ProofCheckCode, message: string): ProofCheck => ({ ok: false, code, message });

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

function open(
  note: unknown,
  what: string,
  keys: readonly NoteVerifier[],
  origin: string | undefined,
): { checkpoint: Checkpoint; signedBy: SignedBy } | ProofCheck {
  if (typeof note !== 'string') return invalid('MALFORMED', `${what} is not a signed note`);
  try {
    const opened = openCheckpoint(note, keys, origin);
    const { checkpoint } = opened;
    return {
      checkpoint,
      signedBy: {
        size: checkpoint.size,
        rootHash: encodeBase64(checkpoint.rootHash),
        signedBy: opened.note.verified.map((s) => `${s.name}+${hex8(s.keyId)}`),
      },
    };
  } catch (e) {
    if (!isAuditLogError(e)) throw e;
    const code: ProofCheckCode =
      e.code === 'CHECKPOINT_WRONG_ORIGIN'
        ? 'WRONG_ORIGIN'
        : e.code === 'CHECKPOINT_MALFORMED'
          ? 'MALFORMED'
          : 'BAD_SIGNATURE';
    return invalid(code, `${what}: ${e.message}`);
  }
}

const failed = (v: object): v is ProofCheck => 'ok' in v;

/** The origin a log key vouches for: its name, when all trusted keys share one (a log key is named for its log). */
function trustedOrigin(keys: readonly NoteVerifier[]): string | undefined {
  const names = new Set(keys.map((k) => k.name));
  return names.size === 1 ? [...names][0] : undefined;
}

function checkInclusion(b: Record<string, unknown>, keys: readonly NoteVerifier[]): ProofCheck {
  if (!isCount(b.seq) || !isCount(b.size))
    return invalid('MALFORMED', 'seq and size must be non-negative integers');
  const proof = decodeHashes(b.proof);
  if (!proof) return invalid('MALFORMED', 'proof must be a list of base64 32-byte hashes');
  const recorded = b.leafHash === undefined || b.leafHash === null ? null : decodeHash(b.leafHash);
  if (b.leafHash != null && !recorded) return invalid('MALFORMED', 'leafHash is not base64 of 32 bytes');
  const opened = open(b.checkpoint, 'checkpoint', keys, trustedOrigin(keys));
  if (failed(opened)) return opened;
  const { checkpoint, signedBy } = opened;
  if (checkpoint.size !== b.size) {
    return invalid(
      'MALFORMED',
      `the bundle says size ${b.size} but its checkpoint is of size ${checkpoint.size}`,
    );
  }
  let leaf: Uint8Array;
  let eventId: string | null = null;
  if (b.event === null || b.event === undefined) {
    if (!recorded) return invalid('MALFORMED', 'a bundle without its event must carry the leafHash');
    leaf = recorded;
  } else {
    if (!isObject(b.event)) return invalid('MALFORMED', 'event must be a JSON object');
    try {
      leaf = leafHash(canonicalize(b.event));
    } catch (e) {
      if (!isAuditLogError(e)) throw e;
      return invalid('MALFORMED', `event: ${e.message}`);
    }
    if (recorded && !bytesEqual(leaf, recorded)) {
      return invalid('CHANGED', `the event does not hash to the leafHash the bundle records`);
    }
    // The seq is inside the hashed event: a proof for one index must not pass an event that names another.
    if (b.event.seq !== b.seq) {
      return invalid(
        'CHANGED',
        `the event says seq ${String(b.event.seq)} but the proof is for leaf ${b.seq}`,
      );
    }
    eventId = typeof b.event.id === 'string' ? b.event.id : null;
  }
  if (!verifyInclusion(leaf, b.seq, b.size, proof, checkpoint.rootHash)) {
    return invalid(
      'ROOT_MISMATCH',
      `the proof does not lead from leaf ${b.seq} to the root of the signed checkpoint of size ${b.size}`,
    );
  }
  return { ok: true, kind: 'inclusion', seq: b.seq, eventId, checkpoint: signedBy };
}

function checkConsistency(b: Record<string, unknown>, keys: readonly NoteVerifier[]): ProofCheck {
  if (!isCount(b.old) || !isCount(b.new))
    return invalid('MALFORMED', 'old and new must be non-negative integers');
  const proof = decodeHashes(b.proof);
  if (!proof) return invalid('MALFORMED', 'proof must be a list of base64 32-byte hashes');
  const origin = trustedOrigin(keys);
  const older = open(b.oldCheckpoint, 'oldCheckpoint', keys, origin);
  if (failed(older)) return older;
  const newer = open(b.newCheckpoint, 'newCheckpoint', keys, origin ?? older.checkpoint.origin);
  if (failed(newer)) return newer;
  if (older.checkpoint.origin !== newer.checkpoint.origin) {
    return invalid('WRONG_ORIGIN', 'the two checkpoints are of different logs');
  }
  if (older.checkpoint.size !== b.old || newer.checkpoint.size !== b.new) {
    return invalid(
      'MALFORMED',
      `the bundle is for sizes ${b.old} → ${b.new} but its checkpoints are of sizes ${older.checkpoint.size} → ${newer.checkpoint.size}`,
    );
  }
  if (!verifyConsistency(b.old, b.new, proof, older.checkpoint.rootHash, newer.checkpoint.rootHash)) {
    return invalid(
      'FORK',
      `the signed checkpoint of size ${b.old} is not a prefix of the one of size ${b.new}`,
    );
  }
  return { ok: true, kind: 'consistency', old: older.signedBy, new: newer.signedBy };
}

/** Checks either kind of bundle with the trusted keys only; nothing in the bundle is taken on trust. */
export function checkProofBundle(bundle: unknown, keys: readonly NoteVerifier[]): ProofCheck {
  if (!isObject(bundle) || bundle.format !== PROOF_FORMAT) {
    return invalid('MALFORMED', `not a ${PROOF_FORMAT} bundle`);
  }
  if (bundle.kind === 'inclusion') return checkInclusion(bundle, keys);
  if (bundle.kind === 'consistency') return checkConsistency(bundle, keys);
  return invalid('MALFORMED', `unknown proof kind ${JSON.stringify(bundle.kind)}`);
}
