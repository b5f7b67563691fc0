import { encodeBase64 } from '../../audit/log/base64.js';
import type { VerifyProblem } from '../../audit/log/verify-problem.js';
import type { VerifiedCheckpoint } from '../../audit/log/verify-types.js';
import { EXIT_FAILURE, ExitStatus } from '../cli-error.js';
import type { Output } from '../output.js';

/** Each key that signed any of the matched checkpoints, once. */
export const signers = (checkpoints: readonly VerifiedCheckpoint[]): string[] => [
  ...new Set(checkpoints.flatMap((c) => c.signedBy)),
];

/** What a successful verification proved, in the words both `verify` modes print. */
export interface Verified {
  /** Events checked and covered by the checkpoint. */
  readonly events: number;
  readonly size: number;
  readonly rootHash: Uint8Array;
  readonly signedBy: readonly string[];
  /** Events read past the checkpoint: consistent so far, not yet signed. */
  readonly unanchored?: number;
}

/** Enough of the root to compare by eye with a published checkpoint. */
export const shortRoot = (root: Uint8Array): string => `${encodeBase64(root).slice(0, 12)}…`;

export function verifiedLine(v: Verified): string {
  return `verified ${v.events} events up to checkpoint ${v.size} (${shortRoot(v.rootHash)}, signed by ${v.signedBy.join(', ')})`;
}

export function failedLine(p: VerifyProblem): string {
  const where =
    p.index !== undefined
      ? ` at event ${p.index}`
      : p.checkpointSize !== undefined
        ? ` at checkpoint ${p.checkpointSize}`
        : '';
  return `FAILED: ${p.code}${where}: ${p.message}`;
}

/**
 * Prints the outcome (one line, or JSON with --json) and fails the command when verification did: exit 0
 * only when verified.
 */
export function printOutcome(
  out: Output,
  outcome:
    | { ok: true; verified: Verified; extra?: Record<string, unknown> }
    | { ok: false; problem: VerifyProblem; eventsRead: number; extra?: Record<string, unknown> },
): void {
  if (outcome.ok) {
    const v = outcome.verified;
    out.result(
      {
        ok: true,
        events: v.events,
        size: v.size,
        rootHash: encodeBase64(v.rootHash),
        signedBy: v.signedBy,
        unanchored: v.unanchored ?? 0,
        ...outcome.extra,
      },
      () => out.line(verifiedLine(v)),
    );
    if (v.unanchored) {
      out.note(`note: ${v.unanchored} newer events are in order but not covered by a signed checkpoint yet`);
    }
    return;
  }
  out.result({ ok: false, problem: outcome.problem, eventsRead: outcome.eventsRead, ...outcome.extra }, () =>
    out.line(failedLine(outcome.problem)),
  );
  throw new ExitStatus(EXIT_FAILURE);
}
