import { hkdfSync, timingSafeEqual } from 'node:crypto';
import {
  compress,
  digestInto,
  expand,
  loadBlock,
  midstate,
  newSchedule,
  paddingBlock,
} from './sha256-block.js';

/**
 * Leaf MACs: proof that a leaf was appended by a Stint server, not by someone who can only write to the store.
 * The key is derived from the checkpoint signing key's seed (HKDF-SHA256, fixed info), so the store never holds
 * it and no new secret needs configuring. A leaf carries one entry per configured signing key:
 *
 *   key ID (4 bytes, the signing key's C2SP key ID) ‖ HMAC-SHA256(K, DOMAIN ‖ seq (8 bytes BE) ‖ leaf hash)
 *
 * so during a rotation (two signing keys) holders of either key can check it. The seq is inside the MAC as well
 * as inside the hashed event, because a purged event keeps only its leaf hash.
 */
export const LEAF_MAC_INFO = 'stint audit leaf MAC v1';
const DOMAIN = Buffer.from('stint-audit-leaf-mac/v1\n', 'utf8');
const ENTRY = 36;

export interface LeafMacKey {
  /** The C2SP key ID of the signing key it was derived from. */
  readonly keyId: number;
  /** SHA-256 states after K ⊕ ipad and K ⊕ opad (RFC 2104): a leaf's MAC starts from them, no key schedule. */
  readonly inner: Int32Array;
  readonly outer: Int32Array;
}

function macKey(keyId: number, key: Uint8Array): LeafMacKey {
  // K is 32 bytes, shorter than SHA-256's block, so it is zero-padded to the block (RFC 2104).
  const pad = (byte: number) => Uint8Array.from({ length: 64 }, (_, i) => (key[i] ?? 0) ^ byte);
  return { keyId, inner: midstate(pad(0x36)), outer: midstate(pad(0x5c)) };
}

/** A source of derived keys: the checkpoint signers (their seeds never leave them). */
export interface MacKeySource {
  readonly keyId: number;
  deriveKey(info: string): Uint8Array;
}

export function leafMacKeys(sources: readonly MacKeySource[]): LeafMacKey[] {
  return sources.map((s) => macKey(s.keyId, s.deriveKey(LEAF_MAC_INFO)));
}

/** HKDF-SHA256 over an Ed25519 seed: the derivation every verifier holding the skey repeats. */
export function deriveFromSeed(seed: Uint8Array, info: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', seed, new Uint8Array(0), info, 32));
}

const LEAF_HASH = 32;
/**
 * The inner hash's message block (DOMAIN ‖ seq ‖ leaf hash: DOMAIN, 24 bytes, is its first six words) and the
 * outer one (inner digest ‖ padding for 64 + 32 bytes): their constant words are set once. Reused by every tag:
 * computing one is synchronous, so nothing else can touch them meanwhile.
 */
const innerBlock = newSchedule();
loadBlock(innerBlock, Buffer.concat([DOMAIN, Buffer.alloc(64 - DOMAIN.length)]));
const outerBlock = newSchedule();
outerBlock[8] = 0x80000000 | 0;
outerBlock[15] = (64 + 32) * 8;
/** The inner hash's last block: padding after the pad block and the message block (128 bytes). */
const INNER_PADDING = paddingBlock(128);
const h = new Int32Array(8);
/** The tag a check expects, reused the same way. */
const expected = Buffer.alloc(32);

/**
 * HMAC-SHA256(K, DOMAIN ‖ seq ‖ leaf hash) = SHA-256(K ⊕ opad ‖ SHA-256(K ⊕ ipad ‖ DOMAIN ‖ seq ‖ leaf hash)),
 * written at `out[at..at+32]`: from the keyed midstates that is three compressions.
 */
function tagInto(key: LeafMacKey, seq: number, leafHash: Uint8Array, out: Uint8Array, at: number): void {
  // seq as 8 bytes big-endian: the high and low 32 bits (exact for every safe integer).
  const w = innerBlock;
  w[6] = Math.floor(seq / 2 ** 32);
  w[7] = seq % 2 ** 32;
  for (let i = 0; i < 8; i++) {
    const o = 4 * i;
    w[8 + i] =
      ((leafHash[o] as number) << 24) |
      ((leafHash[o + 1] as number) << 16) |
      ((leafHash[o + 2] as number) << 8) |
      (leafHash[o + 3] as number);
  }
  expand(w);
  h.set(key.inner);
  compress(h, w);
  compress(h, INNER_PADDING);
  // The outer message after the opad block is the 32-byte inner digest: with its padding, one block.
  outerBlock.set(h);
  expand(outerBlock);
  h.set(key.outer);
  compress(h, outerBlock);
  digestInto(h, out, at);
}

/** The MAC column's value for a leaf: one entry per key. */
export function leafMac(keys: readonly LeafMacKey[], seq: number, leafHash: Uint8Array): Buffer {
  if (leafHash.length !== LEAF_HASH)
    throw new Error(`a leaf hash is ${LEAF_HASH} bytes, not ${leafHash.length}`);
  const out = Buffer.allocUnsafe(keys.length * ENTRY);
  keys.forEach((k, i) => {
    out.writeUInt32BE(k.keyId >>> 0, i * ENTRY);
    tagInto(k, seq, leafHash, out, i * ENTRY + 4);
  });
  return out;
}

/**
 * - `ok`: an entry by a held key verifies, and none by a held key fails;
 * - `missing`: no MAC at all; `bad`: malformed, or an entry by a held key does not verify;
 * - `unknown-key`: well-formed, but only by keys not held (e.g. a key rotated out of this verifier).
 */
export type LeafMacCheck = 'ok' | 'missing' | 'bad' | 'unknown-key';

export function checkLeafMac(
  keys: readonly LeafMacKey[],
  seq: number,
  leafHash: Uint8Array,
  mac: Uint8Array | null | undefined,
): LeafMacCheck {
  if (!mac || mac.length === 0) return 'missing';
  if (mac.length % ENTRY !== 0 || leafHash.length !== LEAF_HASH) return 'bad';
  const bytes = Buffer.from(mac.buffer, mac.byteOffset, mac.byteLength);
  let verified = false;
  for (let at = 0; at < bytes.length; at += ENTRY) {
    const id = bytes.readUInt32BE(at);
    const key = keys.find((k) => k.keyId >>> 0 === id);
    if (!key) continue;
    tagInto(key, seq, leafHash, expected, 0);
    if (!timingSafeEqual(expected, bytes.subarray(at + 4, at + ENTRY))) return 'bad';
    verified = true;
  }
  return verified ? 'ok' : 'unknown-key';
}
