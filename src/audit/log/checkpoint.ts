import { decodeBase64Strict, encodeBase64 } from './base64.js';
import { AuditLogError, assertCount } from './errors.js';
import { HASH_SIZE } from './merkle.js';
import {
  isNoteSafe,
  isValidKeyName,
  type NoteSigner,
  type NoteVerifier,
  type OpenedNote,
  openNote,
  signNote,
} from './signed-note.js';

/**
 * C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint): the body of a signed note that commits a log to its Merkle
 * root at a size.
 *
 *   <origin>\n            the log's identity; ours names the Stint deployment
 *   <tree size>\n         ASCII decimal, no leading zeros ("0" for the empty tree)
 *   <base64 root hash>\n  RFC 6962 MTH, 32 bytes
 *   [<extension>\n …]     optional, non-empty, opaque (not recommended: monitors cannot audit them)
 *
 * We emit only what a C2SP tlog-witness accepts: the origin is also a valid key name (non-empty, no Unicode
 * spaces, no '+'), because the log's key name SHOULD equal it and witnesses look logs up by origin.
 */
export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
  readonly extensions?: readonly string[];
}

function malformed(why: string): never {
  throw new AuditLogError('CHECKPOINT_MALFORMED', `malformed checkpoint: ${why}`);
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, size, rootHash, extensions = [] } = checkpoint;
  if (!isValidKeyName(origin))
    malformed(`origin ${JSON.stringify(origin)} must be non-empty without spaces or '+'`);
  assertCount(size, 'tree size');
  if (rootHash.length !== HASH_SIZE) malformed('the root hash must be 32 bytes');
  for (const line of extensions) {
    // An empty line would end the text early; other control characters are banned by signed-note.
    if (line.length === 0 || line.includes('\n') || !isNoteSafe(line)) malformed('bad extension line');
  }
  return [origin, String(size), encodeBase64(rootHash), ...extensions].map((l) => `${l}\n`).join('');
}

/**
 * Strict parse of checkpoint note text (what `openNote` returns). Strict where the format has one spelling
 * (size without leading zeros or sign, canonical base64 of exactly 32 bytes, final newline, no empty lines);
 * for the origin only the spec's MUST (non-empty) applies, so another log's checkpoint still parses and the
 * caller's origin check names the mismatch.
 */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) malformed('the text must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) malformed('origin, size and root hash lines are required');
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0) malformed('empty origin');
  if (!DECIMAL.test(sizeText))
    malformed(`tree size ${JSON.stringify(sizeText)} is not a decimal without leading zeros`);
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) malformed(`tree size ${sizeText} is past 2^53 − 1`);
  const rootHash = decodeBase64Strict(rootText);
  if (!rootHash || rootHash.length !== HASH_SIZE) malformed('the root hash must be base64 of 32 bytes');
  if (extensions.some((l) => l.length === 0)) malformed('empty extension line');
  return { origin, size, rootHash, extensions };
}

/** Formats and signs. Every signer's key name must equal the origin, as witnesses expect of a log's key. */
export function signCheckpoint(checkpoint: Checkpoint, signers: readonly NoteSigner[]): string {
  for (const s of signers) {
    if (s.name !== checkpoint.origin) {
      throw new AuditLogError(
        'KEY_INVALID',
        `a log key's name (${s.name}) must be its origin (${checkpoint.origin})`,
      );
    }
  }
  return signNote(formatCheckpoint(checkpoint), signers);
}

export interface OpenedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly note: OpenedNote;
}

/**
 * Verifies the note (see `openNote` for its error codes), parses the checkpoint strictly and, if `origin` is
 * given, requires it (`CHECKPOINT_WRONG_ORIGIN`): a signature by our key over another log's checkpoint proves
 * nothing about ours.
 */
export function openCheckpoint(
  note: string | Uint8Array,
  verifiers: readonly NoteVerifier[],
  origin?: string,
): OpenedCheckpoint {
  const opened = openNote(note, verifiers);
  const checkpoint = parseCheckpoint(opened.text);
  if (origin !== undefined && checkpoint.origin !== origin) {
    throw new AuditLogError(
      'CHECKPOINT_WRONG_ORIGIN',
      `checkpoint origin ${JSON.stringify(checkpoint.origin)} is not ${JSON.stringify(origin)}`,
    );
  }
  return { checkpoint, note: opened };
}
