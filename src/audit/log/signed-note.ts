import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { decodeBase64Strict, encodeBase64 } from './base64.js';
import { AuditLogError } from './errors.js';
import { deriveFromSeed } from './leaf-mac.js';

/**
 * C2SP signed-note (c2sp.org/signed-note) with Ed25519 keys, byte-compatible with Go's
 * golang.org/x/mod/sumdb/note, which witnesses and transparency-log tooling use:
 *
 *   <text ending in \n>
 *   <blank line>
 *   — <key name> base64(key ID (4 bytes, big-endian) ‖ signature)
 *
 * Ed25519 key ID = SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)[:4]. Public keys travel as vkeys,
 * `<name>+<8 hex digits of key ID>+base64(0x01 ‖ public key)`; private keys as skeys,
 * `PRIVATE+KEY+<name>+<key ID hex>+base64(0x01 ‖ 32-byte seed)`, the forms `note.GenerateKey` prints.
 */

/** Signature type byte for Ed25519 in signed-note's registry. */
const ED25519 = 0x01;
const SIG_PREFIX = '\u2014 ';
/** Go's note.Open gives up past 100 signatures; C2SP asks verifiers to accept at least 16. */
const MAX_SIGNATURES = 100;
/** Checkpoints are a few hundred bytes; a megabyte leaves room for many post-quantum cosignatures. */
const MAX_NOTE_LENGTH = 1_000_000;

// PKCS#8 and SPKI wrappers around raw Ed25519 keys (RFC 8410), so node:crypto can take a 32-byte seed or key.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  sign(message: Uint8Array): Uint8Array;
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

export interface Ed25519NoteVerifier extends NoteVerifier {
  readonly publicKey: Uint8Array;
  /** The vkey string for this key, for `stint audit key` and for `--key` on the offline verifier. */
  readonly vkey: string;
}

export interface Ed25519NoteSigner extends NoteSigner {
  readonly publicKey: Uint8Array;
  readonly vkey: string;
  readonly verifier: Ed25519NoteVerifier;
  /** A 32-byte key derived from the seed for another purpose (leaf MACs), so the seed itself stays here. */
  deriveKey(info: string): Uint8Array;
}

export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  /** base64(key ID ‖ signature), as on the line. */
  readonly base64: string;
}

export interface OpenedNote {
  /** The signed text, final newline included. Only meaningful because `verified` is non-empty. */
  readonly text: string;
  /** Signatures by known keys, each verified. Never empty: `openNote` throws instead. */
  readonly verified: readonly NoteSignature[];
  /** Signatures by keys not given to `openNote` (witness cosignatures, a key rotated out), not checked. */
  readonly unverified: readonly NoteSignature[];
}

// Go's unicode.IsSpace plus U+FEFF, which JavaScript's \s counts: neither may appear in a key name.
const UNICODE_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/u;
// In a /u regex a surrogate only matches when unpaired: text that would not be valid UTF-8 once encoded.
const LONE_SURROGATE = /\p{Surrogate}/u;

/** C2SP: a note is valid UTF-8 with no control characters (below U+0020) other than newline. */
export function isNoteSafe(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a) return false;
  }
  return !LONE_SURROGATE.test(text);
}

/** C2SP: key names are non-empty and contain neither Unicode spaces nor '+'. */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !UNICODE_SPACE.test(name) && !name.includes('+') && isNoteSafe(name);
}

function requireKeyName(name: string): void {
  if (!isValidKeyName(name)) {
    throw new AuditLogError('KEY_INVALID', `key name ${JSON.stringify(name)} is empty or has a space or '+'`);
  }
}

function rawPublicKey(key: Uint8Array | KeyObject): Uint8Array {
  if (key instanceof Uint8Array) {
    if (key.length !== 32) throw new AuditLogError('KEY_INVALID', 'an Ed25519 public key is 32 bytes');
    return key;
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new AuditLogError('KEY_INVALID', 'the key is not Ed25519');
  const spki = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(SPKI_ED25519_PREFIX.length));
}

/** Key ID = first 4 bytes, big-endian, of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key) (C2SP signed-note). */
export function keyIdFor(name: string, publicKey: Uint8Array | KeyObject): number {
  requireKeyName(name);
  const digest = createHash('sha256')
    .update(name, 'utf8')
    .update(Buffer.from([0x0a, ED25519]))
    .update(rawPublicKey(publicKey))
    .digest();
  return digest.readUInt32BE(0);
}

const hex8 = (keyId: number): string => keyId.toString(16).padStart(8, '0');

/** `<name>+<key ID hex>+base64(0x01 ‖ public key)`. */
export function vkeyFor(name: string, publicKey: Uint8Array | KeyObject): string {
  const raw = rawPublicKey(publicKey);
  return `${name}+${hex8(keyIdFor(name, raw))}+${encodeBase64(Buffer.concat([Buffer.from([ED25519]), raw]))}`;
}

/** A verifier for the Ed25519 key `publicKey` under `name`. */
export function createEd25519Verifier(name: string, publicKey: Uint8Array | KeyObject): Ed25519NoteVerifier {
  const raw = rawPublicKey(publicKey);
  const keyId = keyIdFor(name, raw);
  const key = createPublicKey({
    key: Buffer.concat([SPKI_ED25519_PREFIX, raw]),
    format: 'der',
    type: 'spki',
  });
  return {
    name,
    keyId,
    publicKey: raw,
    vkey: vkeyFor(name, raw),
    verify: (message, signature) => signature.length === 64 && verify(null, message, key, signature),
  };
}

/**
 * Splits at the first `fields − 1` '+' signs only: base64 key material may itself contain '+' (Go's note
 * package chops the same way). Missing fields come back undefined.
 */
function chop(text: string, fields: number): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  let rest = text;
  for (let i = 1; i < fields; i++) {
    const plus = rest.indexOf('+');
    if (plus < 0) return out;
    out.push(rest.slice(0, plus));
    rest = rest.slice(plus + 1);
  }
  out.push(rest);
  return out;
}

/** Parses a vkey (as printed by `stint audit key` or Go's note.GenerateKey), checking its key ID. */
export function parseVkey(vkey: string): Ed25519NoteVerifier {
  const [name, idHex, keyB64] = chop(vkey.trim(), 3);
  if (name === undefined || idHex === undefined || keyB64 === undefined) {
    throw new AuditLogError('KEY_INVALID', 'a vkey is <name>+<key ID hex>+<base64 key>');
  }
  requireKeyName(name);
  const key = decodeBase64Strict(keyB64);
  if (!/^[0-9a-fA-F]{8}$/.test(idHex) || !key) {
    throw new AuditLogError('KEY_INVALID', 'a vkey is <name>+<8 hex digits>+<base64 key>');
  }
  if (key.length !== 33 || key[0] !== ED25519) {
    throw new AuditLogError('KEY_INVALID', 'only Ed25519 vkeys (type 0x01, 32-byte key) are supported');
  }
  const verifier = createEd25519Verifier(name, key.subarray(1));
  if (verifier.keyId !== Number.parseInt(idHex, 16)) {
    throw new AuditLogError('KEY_INVALID', `vkey key ID ${idHex} does not match its name and key`);
  }
  return verifier;
}

/** A signer from an Ed25519 private key (a KeyObject, e.g. from a PEM file). */
export function createEd25519Signer(name: string, privateKey: KeyObject): Ed25519NoteSigner {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new AuditLogError('KEY_INVALID', 'the signing key must be an Ed25519 private key');
  }
  const verifier = createEd25519Verifier(name, privateKey);
  return {
    name,
    keyId: verifier.keyId,
    publicKey: verifier.publicKey,
    vkey: verifier.vkey,
    verifier,
    sign: (message) => sign(null, message, privateKey),
    deriveKey: (info) =>
      deriveFromSeed(Buffer.from(privateKey.export({ format: 'jwk' }).d as string, 'base64url'), info),
  };
}

function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** `PRIVATE+KEY+<name>+<key ID hex>+base64(0x01 ‖ seed)`: keep it out of logs, events and the database. */
export function skeyFor(name: string, seed: Uint8Array): string {
  if (seed.length !== 32) throw new AuditLogError('KEY_INVALID', 'an Ed25519 seed is 32 bytes');
  const signer = createEd25519Signer(name, privateKeyFromSeed(seed));
  return `PRIVATE+KEY+${name}+${hex8(signer.keyId)}+${encodeBase64(Buffer.concat([Buffer.from([ED25519]), seed]))}`;
}

/** Parses an skey (from a file or the environment), checking that its key ID matches. */
export function parseSkey(skey: string): Ed25519NoteSigner {
  const [p, k, name, idHex, keyB64] = chop(skey.trim(), 5);
  if (p !== 'PRIVATE' || k !== 'KEY' || name === undefined || idHex === undefined || keyB64 === undefined) {
    throw new AuditLogError('KEY_INVALID', 'an skey is PRIVATE+KEY+<name>+<key ID hex>+<base64 key>');
  }
  requireKeyName(name);
  const key = decodeBase64Strict(keyB64);
  if (!/^[0-9a-fA-F]{8}$/.test(idHex) || !key || key.length !== 33 || key[0] !== ED25519) {
    throw new AuditLogError('KEY_INVALID', 'only Ed25519 skeys (type 0x01, 32-byte seed) are supported');
  }
  const signer = createEd25519Signer(name, privateKeyFromSeed(key.subarray(1)));
  if (signer.keyId !== Number.parseInt(idHex, 16)) {
    throw new AuditLogError('KEY_INVALID', `skey key ID ${idHex} does not match its name and key`);
  }
  return signer;
}

/** A fresh Ed25519 note key: the skey to keep secret and the vkey to publish. */
export function generateNoteKey(name: string): { skey: string; vkey: string } {
  const seed = randomBytes(32);
  const skey = skeyFor(name, seed);
  return { skey, vkey: parseSkey(skey).vkey };
}

function requireNoteText(text: string): void {
  if (!text.endsWith('\n')) throw new AuditLogError('NOTE_TEXT_INVALID', 'note text must end with a newline');
  if (!isNoteSafe(text)) {
    throw new AuditLogError('NOTE_TEXT_INVALID', 'note text must be valid UTF-8 without control characters');
  }
}

/**
 * Signs `text` (which must end in a newline) with every signer, in order: one note, several signature lines.
 * Signing with the old and the new key during a rotation gives a note that either key's holders accept.
 */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  requireNoteText(text);
  if (signers.length === 0) throw new AuditLogError('INVALID_ARGUMENT', 'a note needs at least one signer');
  const message = Buffer.from(text, 'utf8');
  const lines = signers.map((signer) => {
    requireKeyName(signer.name);
    const id = Buffer.alloc(4);
    id.writeUInt32BE(signer.keyId >>> 0);
    const sig = signer.sign(message);
    return `${SIG_PREFIX}${signer.name} ${encodeBase64(Buffer.concat([id, sig]))}\n`;
  });
  return `${text}\n${lines.join('')}`;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Notes read from files arrive as bytes; invalid UTF-8 is malformed, not silently replaced. */
function decodeUtf8(bytes: Uint8Array): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    return malformed('not valid UTF-8');
  }
}

function malformed(why: string): never {
  throw new AuditLogError('NOTE_MALFORMED', `malformed signed note: ${why}`);
}

/**
 * Opens a signed note the way C2SP prescribes and Go's note.Open implements:
 * - signatures from keys not in `verifiers` (matched by name AND key ID) are ignored, listed as unverified;
 * - a signature from a known key that fails rejects the whole note (`NOTE_INVALID_SIGNATURE`);
 * - a note with no verified signature is rejected (`NOTE_UNVERIFIED`): its text must not be used.
 */
export function openNote(input: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const note = typeof input === 'string' ? input : decodeUtf8(input);
  if (note.length > MAX_NOTE_LENGTH) malformed('too large');
  if (!isNoteSafe(note)) malformed('control characters or invalid UTF-8');
  // The text ends at the last blank line: text may contain blank lines, signatures never do.
  const split = note.lastIndexOf('\n\n');
  if (split < 0) malformed('no blank line before the signatures');
  const text = note.slice(0, split + 1);
  const sigBlock = note.slice(split + 2);
  if (sigBlock.length === 0 || !sigBlock.endsWith('\n')) malformed('signature lines must end with a newline');
  const lines = sigBlock.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) malformed(`more than ${MAX_SIGNATURES} signatures`);

  const message = Buffer.from(text, 'utf8');
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const line of lines) {
    if (!line.startsWith(SIG_PREFIX)) malformed('a signature line must start with "— "');
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    if (space < 0) malformed('a signature line is "— <name> <base64>"');
    const name = rest.slice(0, space);
    const b64 = rest.slice(space + 1);
    const sig = decodeBase64Strict(b64);
    if (!isValidKeyName(name) || !sig || sig.length < 5) malformed(`bad signature line for ${name}`);
    const keyId = Buffer.from(sig.buffer, sig.byteOffset, 4).readUInt32BE(0);
    const signature: NoteSignature = { name, keyId, base64: b64 };
    const key = `${name}+${hex8(keyId)}`;
    const verifier = verifiers.find((v) => v.name === name && v.keyId === keyId);
    if (!verifier) {
      // Unknown keys are ignored, not checked; a line repeated verbatim is listed once (as Go does).
      if (!unverified.some((u) => u.name === name && u.base64 === b64)) unverified.push(signature);
      continue;
    }
    // A second signature by the same known key adds nothing (Go drops it too).
    if (seen.has(key)) continue;
    seen.add(key);
    if (!verifier.verify(message, sig.subarray(4))) {
      throw new AuditLogError('NOTE_INVALID_SIGNATURE', `the signature by known key ${key} does not verify`);
    }
    verified.push(signature);
  }
  if (verified.length === 0) throw new AuditLogError('NOTE_UNVERIFIED', 'no signature by a known key');
  return { text, verified, unverified };
}
