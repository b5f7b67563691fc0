import { parseCheckpoint } from '../log/checkpoint.js';
import type { VerifyProblem } from '../log/verify-problem.js';
import { type CosignatureVerifier, cosignedBy } from './cosignature.js';

export interface Witnessed {
  readonly size: number;
  readonly by: readonly string[];
}

/**
 * The largest checkpoint, among notes the log verifier already matched against the events (sizes up to
 * `verifiedSize`), that at least `k` of the given witnesses cosigned. A witness cosigns only a tree consistent
 * with everything it saw before, so a rolled-back or forked log cannot get new cosignatures: its checkpoints
 * stay below the quorum. Null when none reaches it.
 */
export function largestWitnessed(
  notes: readonly string[],
  witnesses: readonly CosignatureVerifier[],
  k: number,
  verifiedSize: number,
): Witnessed | null {
  let best: Witnessed | null = null;
  for (const note of notes) {
    const by = cosignedBy(note, witnesses);
    if (by.length < k) continue;
    const split = note.lastIndexOf('\n\n');
    let size: number;
    try {
      size = parseCheckpoint(note.slice(0, split + 1)).size;
    } catch {
      continue;
    }
    if (size <= verifiedSize && (!best || size > best.size)) best = { size, by };
  }
  return best;
}

export function unwitnessed(k: number, size: number): VerifyProblem {
  return {
    code: 'UNWITNESSED',
    checkpointSize: size,
    message:
      `the signed checkpoint of size ${size} does not carry cosignatures by ${k} of the given witnesses: ` +
      'they refused it (the log was rolled back or forked) or never received it',
  };
}
