import { encodeBase64 } from '../log/base64.js';
import { openCheckpoint } from '../log/checkpoint.js';
import type { NoteVerifier } from '../log/signed-note.js';
import type { VerifyProblem } from '../log/verify-problem.js';
import type { CosignatureVerifier } from './cosignature.js';
import { largestWitnessed, unwitnessed, type Witnessed } from './witness-quorum.js';

/**
 * What a verifier keeps between runs for the witness check: when it first saw each signed checkpoint the
 * witnesses had not cosigned yet (the grace runs on its own clock, never on a time the server supplies), and
 * which witnesses it has seen cosign this log (a witness new to it gets no grace: trust on first use).
 */
export interface WitnessingState {
  /** `<size> <root, base64>` → ISO time first seen, for checkpoints still without the witnesses' quorum. */
  firstSeen: Record<string, string>;
  /** Witness (`<name>+<key ID>+<key>`) → the first size this verifier saw it cosign, and when. */
  witnesses: Record<string, { size: number; since: string }>;
}

/** A witness's refusal of a checkpoint, as the server that submitted it reports it. */
export interface ReportedRefusal {
  readonly witness: string;
  readonly status: number;
  readonly witnessSize?: number;
}

export interface WitnessCheckInput {
  /** Every checkpoint note the log verifier matched against the events (cosignatures appended). */
  notes: readonly string[];
  /** The log's origin and keys, to read sizes and roots from the notes. */
  origin: string;
  keys: readonly NoteVerifier[];
  /** The refusals the server lists beside its checkpoints. */
  refusals: readonly { size: number; refusals?: readonly ReportedRefusal[] }[];
  witnesses: readonly CosignatureVerifier[];
  k: number;
  /** The size the log verifier proved (its largest matched checkpoint). */
  verifiedSize: number;
  state: WitnessingState;
  now: Date;
  graceMs: number;
}

export type WitnessCheck = { state: WitnessingState } & (
  | { ok: true; witnessed: Witnessed }
  | { ok: false; problem: VerifyProblem }
);

export const witnessId = (w: CosignatureVerifier): string =>
  `${w.name}+${w.keyId.toString(16).padStart(8, '0')}+${encodeBase64(w.publicKey)}`;

/**
 * Judges the witnesses' cosignatures for a verified log:
 * - a refusal the server reports for a checkpoint above the witnessed one fails at once (the witness saw a
 *   rollback or fork);
 * - a witness this verifier has never seen cosign this log is trusted on first use: its first cosignature must
 *   cover the current tree (no grace), since nothing tells whether it started witnessing after a fork;
 * - otherwise a signed checkpoint still without the quorum fails once `graceMs` passed since this verifier
 *   first saw it, by its own clock. The store's `createdAt` plays no part: moving it cannot extend the grace.
 */
export function checkWitnesses(input: WitnessCheckInput): WitnessCheck {
  const { witnesses, k, verifiedSize, now } = input;
  const witnessed = largestWitnessed(input.notes, witnesses, k, verifiedSize);
  const floor = witnessed?.size ?? 0;

  // The signed checkpoints above the witnessed one, each remembered from when it was first seen.
  const pending = new Map<string, number>();
  for (const note of input.notes) {
    try {
      const { checkpoint } = openCheckpoint(note, input.keys, input.origin);
      if (checkpoint.size > floor && checkpoint.size <= verifiedSize) {
        pending.set(`${checkpoint.size} ${encodeBase64(checkpoint.rootHash)}`, checkpoint.size);
      }
    } catch {
      // Not this log's, or not validly signed: the log verifier has judged it already.
    }
  }
  const firstSeen: Record<string, string> = {};
  for (const key of pending.keys()) firstSeen[key] = input.state.firstSeen[key] ?? now.toISOString();
  const state: WitnessingState = { firstSeen, witnesses: { ...input.state.witnesses } };
  const fail = (problem: VerifyProblem): WitnessCheck => ({ ok: false, problem, state });

  const names = new Set(witnesses.map((w) => w.name));
  for (const listed of input.refusals) {
    if (listed.size <= floor || listed.size > verifiedSize) continue;
    const refusal = listed.refusals?.find((r) => names.has(r.witness));
    if (!refusal) continue;
    const theirs = refusal.witnessSize === undefined ? '' : `; it has cosigned size ${refusal.witnessSize}`;
    return fail({
      code: 'UNWITNESSED',
      checkpointSize: listed.size,
      message:
        `witness ${refusal.witness} refused checkpoint ${listed.size} (HTTP ${refusal.status}${theirs}): ` +
        'the log was rolled back or forked',
    });
  }

  const known = witnesses.filter((w) => input.state.witnesses[witnessId(w)] !== undefined);
  if (known.length < k) {
    if (!witnessed || witnessed.size < verifiedSize) {
      const fresh = witnesses.filter((w) => !known.includes(w)).map((w) => w.name);
      return fail({
        code: 'UNWITNESSED',
        checkpointSize: verifiedSize,
        message:
          `trust on first use: witness ${fresh.join(', ')} is new to this verifier, so its first cosignatures ` +
          `must cover the current tree (checkpoint ${verifiedSize}), but ${k} of the witnesses cosigned ` +
          `${witnessed ? `only up to ${witnessed.size}` : 'none'}; run again once they have cosigned it`,
      });
    }
  }
  for (const [key, size] of pending) {
    const seen = Date.parse(firstSeen[key] as string);
    if (now.getTime() - seen > input.graceMs) return fail(unwitnessed(k, size));
  }
  // No checkpoint with the quorum at all: nothing vouches for any of the log (a store that lost them, or a
  // quorum never reached).
  if (!witnessed) return fail(unwitnessed(k, verifiedSize));
  for (const w of witnesses) {
    const id = witnessId(w);
    if (witnessed.by.includes(w.name) && !state.witnesses[id]) {
      state.witnesses[id] = { size: witnessed.size, since: now.toISOString() };
    }
  }
  return { ok: true, witnessed, state };
}
