/**
 * RFC 9162 §2.1 in the browser, with Web Crypto's SHA-256 and nothing else: leaf and node hashes, and the
 * inclusion-proof check of §2.1.3.2 step by step, so an auditor can hold each line against the RFC (the server's
 * own copy is src/audit/log/proof-verification.ts; test/portal/rfc9162.test.ts runs both on the RFC 6962 vectors
 * and on the server's proofs). No imports: it runs as is in Node for that test.
 */

const HASH_SIZE = 32;

export async function sha256(...parts: readonly Uint8Array[]): Promise<Uint8Array> {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const input = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    input.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', input));
}

/** MTH({d}) = SHA-256(0x00 ‖ d). */
export const leafHash = (data: Uint8Array) => sha256(Uint8Array.of(0x00), data);

/** SHA-256(0x01 ‖ left ‖ right). */
export const nodeHash = (left: Uint8Array, right: Uint8Array) => sha256(Uint8Array.of(0x01), left, right);

export const bytesEqual = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * RFC 9162 §2.1.3.2: whether `proof` takes the leaf hash at `index` to `root` in a tree of `size` leaves.
 * False for every "fail" of the algorithm and for any hash that is not 32 bytes.
 */
export async function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): Promise<boolean> {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0) return false;
  if (leaf.length !== HASH_SIZE || root.length !== HASH_SIZE) return false;
  if (!proof.every((p) => p.length === HASH_SIZE)) return false;
  // 1. leaf_index ≥ tree_size fails.
  if (index >= size) return false;
  // 2. fn = leaf_index, sn = tree_size − 1.  3. r = hash.
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  // 4. For each p in inclusion_path:
  for (const p of proof) {
    // a. sn = 0: the path is longer than the tree is tall.
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      // b. p is a left sibling: r = HASH(0x01 ‖ p ‖ r); then, until LSB(fn) is set or fn is 0, shift both.
      r = await nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      // Otherwise p is a right sibling: r = HASH(0x01 ‖ r ‖ p).
      r = await nodeHash(r, p);
    }
    // c. Shift both once.
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // 5. Succeed iff sn is 0 and r is root_hash.
  return sn === 0 && bytesEqual(r, root);
}

/** Standard base64 (RFC 4648 §4), as the API sends hashes; null for anything else. */
export function fromBase64(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export const toHex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
