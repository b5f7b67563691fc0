import { createHash, createPublicKey, verify } from 'node:crypto';
import { decodeBase64Strict } from '../log/base64.js';
import { AuditLogError, isAuditLogError } from '../log/errors.js';
import { isValidKeyName, type NoteVerifier, openNote } from '../log/signed-note.js';

/**
 * C2SP tlog-cosignature v1 with Ed25519 (c2sp.org/tlog-cosignature): a witness's signature line on our
 * checkpoint. The line's bytes after the key ID are an 8-byte big-endian timestamp and a 64-byte signature over
 *
 *   cosignature/v1\n  time <timestamp>\n  <checkpoint body, final newline included>
 *
 * Witness vkeys use signature type 0x04, so the key ID is SHA-256(name ‖ \n ‖ 0x04 ‖ key)[:4].
 */
export const COSIGNATURE_V1 = 0x04;
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface CosignatureVerifier extends NoteVerifier {
  readonly publicKey: Uint8Array;
}

export function cosignatureKeyId(name: string, publicKey: Uint8Array): number {
  return createHash('sha256')
    .update(name, 'utf8')
    .update(Buffer.from([0x0a, COSIGNATURE_V1]))
    .update(publicKey)
    .digest()
    .readUInt32BE(0);
}

export function cosignedMessage(checkpointText: string, timestamp: bigint): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${timestamp}\n${checkpointText}`, 'utf8');
}

/** Parses a witness vkey `<name>+<key ID hex>+base64(0x04 ‖ Ed25519 key)`, checking its key ID. */
export function parseWitnessVkey(vkey: string): CosignatureVerifier {
  const text = vkey.trim();
  const first = text.indexOf('+');
  const second = first < 0 ? -1 : text.indexOf('+', first + 1);
  if (second < 0)
    throw new AuditLogError('KEY_INVALID', 'a witness vkey is <name>+<key ID hex>+<base64 key>');
  const name = text.slice(0, first);
  const idHex = text.slice(first + 1, second);
  const key = decodeBase64Strict(text.slice(second + 1));
  if (!isValidKeyName(name) || !/^[0-9a-fA-F]{8}$/.test(idHex) || !key) {
    throw new AuditLogError('KEY_INVALID', 'a witness vkey is <name>+<8 hex digits>+<base64 key>');
  }
  if (key.length !== 33 || key[0] !== COSIGNATURE_V1) {
    throw new AuditLogError(
      'KEY_INVALID',
      'a witness vkey must be an Ed25519 cosignature/v1 key (type 0x04)',
    );
  }
  const publicKey = key.subarray(1);
  const keyId = cosignatureKeyId(name, publicKey);
  if (keyId !== Number.parseInt(idHex, 16)) {
    throw new AuditLogError('KEY_INVALID', `witness vkey key ID ${idHex} does not match its name and key`);
  }
  const spki = createPublicKey({
    key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]),
    format: 'der',
    type: 'spki',
  });
  return {
    name,
    keyId,
    publicKey,
    verify(message, signature) {
      if (signature.length !== 72) return false;
      const sig = Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength);
      const timestamp = sig.readBigUInt64BE(0);
      if (timestamp >= 2n ** 63n) return false;
      return verify(
        null,
        cosignedMessage(Buffer.from(message).toString('utf8'), timestamp),
        spki,
        sig.subarray(8),
      );
    },
  };
}

/** The signature lines of a note (everything after its last blank line). */
export function signatureLines(note: string): string[] {
  const split = note.lastIndexOf('\n\n');
  return split < 0
    ? []
    : note
        .slice(split + 2)
        .split('\n')
        .filter((l) => l !== '');
}

/**
 * The names of the given witnesses whose cosignature on this note verifies. A cosignature by a given witness
 * that fails counts for none (the whole note is suspect for that set, as signed-note prescribes).
 */
export function cosignedBy(note: string, witnesses: readonly CosignatureVerifier[]): string[] {
  if (witnesses.length === 0) return [];
  try {
    return [...new Set(openNote(note, witnesses).verified.map((s) => s.name))];
  } catch (e) {
    if (isAuditLogError(e)) return [];
    throw e;
  }
}
