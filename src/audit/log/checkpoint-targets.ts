import { openCheckpoint } from './checkpoint.js';
import { type AuditLogErrorCode, isAuditLogError } from './errors.js';
import { bytesEqual } from './merkle.js';
import { verifyConsistency } from './proof-verification.js';
import type { VerifyProblem, VerifyProblemCode } from './verify-problem.js';
import type { VerifiedCheckpoint, VerifyOptions } from './verify-types.js';

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
