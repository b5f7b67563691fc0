/**
 * Failures of the audit-log cryptographic core. The core is a library, not an HTTP surface, so its codes live
 * here rather than in the API's `ErrorCode` list; whoever exposes one to a user maps it there (a malformed or
 * unverifiable note from a client is a 4xx, everything else is a configuration or programming mistake).
 *
 * Tamper findings of the offline verifier are not errors: they are `VerifyProblem`s in a report (verifier.ts),
 * because finding one is the verifier doing its job.
 */
export type AuditLogErrorCode =
  /** A caller passed a value no correct program passes (negative size, index past the tree, wrong hash length). */
  | 'INVALID_ARGUMENT'
  /** A value outside RFC 8785's data model (non-finite number, undefined, function, lone surrogate, cycle…). */
  | 'JCS_UNSUPPORTED_VALUE'
  /** Text that cannot be signed as a note (no final newline, control characters, invalid key name…). */
  | 'NOTE_TEXT_INVALID'
  /** A signed note that does not parse as a C2SP signed-note. */
  | 'NOTE_MALFORMED'
  /** A signature by a known key (name and key ID match) does not verify: the whole note is rejected. */
  | 'NOTE_INVALID_SIGNATURE'
  /** No signature by any known key: the note's text must be ignored. */
  | 'NOTE_UNVERIFIED'
  /** A vkey/skey string or key material that is not a valid Ed25519 note key. */
  | 'KEY_INVALID'
  /** Note text that is not a strict C2SP tlog-checkpoint body. */
  | 'CHECKPOINT_MALFORMED'
  /** A checkpoint for another log than the one expected. */
  | 'CHECKPOINT_WRONG_ORIGIN'
  /** A tree store asked for a node it does not hold (the store is behind, or the request is past its size). */
  | 'NODE_UNAVAILABLE'
  /** A hashing worker failed or exited; verification cannot conclude either way. */
  | 'WORKER_FAILED';

export class AuditLogError extends Error {
  override readonly name = 'AuditLogError';
  readonly code: AuditLogErrorCode;

  constructor(code: AuditLogErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function isAuditLogError(e: unknown): e is AuditLogError {
  return e instanceof AuditLogError;
}

/** Sizes and indices are JavaScript numbers: exact up to 2^53 − 1, far past any audit log's length. */
export function assertCount(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new AuditLogError('INVALID_ARGUMENT', `${what} must be a non-negative safe integer, got ${value}`);
  }
}
