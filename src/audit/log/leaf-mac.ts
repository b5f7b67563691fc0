import { createHash, type Hash, hkdfSync, timingSafeEqual } from 'node:crypto';

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
  /** HMAC's keyed inner and outer hash states (RFC 2104), copied per leaf: appends pay no key schedule. */
  readonly inner: Hash;
  readonly outer: Hash;
}

function macKey(keyId: number, key: Uint8Array): LeafMacKey {
  const pad = (byte: number) => Buffer.from(Buffer.alloc(64).map((_, i) => (key[i] ?? 0) ^ byte));
  return {
    keyId,
    inner: createHash('sha256').update(pad(0x36)),
    outer: createHash('sha256').update(pad(0x5c)),
  };
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

/** HMAC-SHA256(K, DOMAIN ‖ seq ‖ leaf hash), K being 32 bytes (shorter than SHA-256's block, so padded). */
function tag(key: LeafMacKey, seq: number, leafHash: Uint8Array): Buffer {
  const index = Buffer.alloc(8);
  index.writeBigUInt64BE(BigInt(seq));
  const inner = key.inner.copy().update(DOMAIN).update(index).update(leafHash).digest();
  return key.outer.copy().update(inner).digest();
}

/** The MAC column's value for a leaf: one entry per key. */
export function leafMac(keys: readonly LeafMacKey[], seq: number, leafHash: Uint8Array): Buffer {
  const out = Buffer.alloc(keys.length * ENTRY);
  keys.forEach((k, i) => {
    out.writeUInt32BE(k.keyId >>> 0, i * ENTRY);
    tag(k, seq, leafHash).copy(out, i * ENTRY + 4);
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
  if (mac.length % ENTRY !== 0) return 'bad';
  const bytes = Buffer.from(mac.buffer, mac.byteOffset, mac.byteLength);
  let verified = false;
  for (let at = 0; at < bytes.length; at += ENTRY) {
    const id = bytes.readUInt32BE(at);
    const key = keys.find((k) => k.keyId >>> 0 === id);
    if (!key) continue;
    if (!timingSafeEqual(tag(key, seq, leafHash), bytes.subarray(at + 4, at + ENTRY))) return 'bad';
    verified = true;
  }
  return verified ? 'ok' : 'unknown-key';
}
