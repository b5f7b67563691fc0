import { assertCount } from './errors.js';
import { bytesEqual, EMPTY_ROOT, HASH_SIZE, nodeHash } from './merkle.js';

/**
 * The client's side of RFC 9162: checking an inclusion proof (§2.1.3.2) and a consistency proof (§2.1.4.2)
 * against signed roots, without the tree. Written step by step so each line can be held against the RFC.
 */

const isHash = (h: Uint8Array): boolean => h.length === HASH_SIZE;

/**
 * RFC 9162 §2.1.3.2, step by step. Returns false for every "fail" of the algorithm and for hashes that are not
 * 32 bytes; throws only for sizes that are not non-negative safe integers (a caller's bug).
 */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  assertCount(index, 'leaf index');
  assertCount(size, 'tree size');
  if (!isHash(leaf) || !isHash(root) || !proof.every(isHash)) return false;
  // 1. leaf_index ≥ tree_size fails.
  if (index >= size) return false;
  // 2. fn = leaf_index, sn = tree_size − 1.  3. r = hash.
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  // 4. For each p in inclusion_path:
  for (const p of proof) {
    // a. sn = 0 means the path is longer than the tree is tall.
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      // b. p is a left sibling.
      r = nodeHash(p, r);
      // Climb past levels where this node is its parent's only child (the right edge of a smaller tree).
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    // c. shift both once.
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // 5. The path must have reached the root (sn = 0) and produced root_hash.
  return sn === 0 && bytesEqual(r, root);
}

/**
 * RFC 9162 §2.1.4.2, step by step, for 0 < oldSize < newSize. The RFC leaves two edges to the caller:
 *
 * - oldSize = newSize: consistent iff the proof is empty and the roots are equal (what every implementation
 *   does, and what makes two checkpoints of one size with different roots a fork).
 * - oldSize = 0 (OUR CHOICE): consistent iff the proof is empty and oldRoot is MTH({}) = SHA-256(""). RFC 9162
 *   defines proofs only for 0 < m, and transparency-dev/merkle's current verifier rejects size 0 as
 *   "meaningless"; we accept it because the empty tree *is* a prefix of every tree, because C2SP tlog-witness
 *   sends exactly this ("old 0" with an empty proof) for a log's first cosignature, and because it lets the
 *   verifier treat "no earlier checkpoint" like any other. Checking oldRoot keeps a caller from passing off a
 *   non-empty tree as size 0. newRoot cannot be checked without the leaves; it only has to be a hash.
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  proof: readonly Uint8Array[],
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
): boolean {
  assertCount(oldSize, 'old tree size');
  assertCount(newSize, 'new tree size');
  if (!isHash(oldRoot) || !isHash(newRoot) || !proof.every(isHash)) return false;
  if (oldSize > newSize) return false;
  if (oldSize === 0) return proof.length === 0 && bytesEqual(oldRoot, EMPTY_ROOT);
  if (oldSize === newSize) return proof.length === 0 && bytesEqual(oldRoot, newRoot);
  // 1. An empty consistency_path fails.
  if (proof.length === 0) return false;
  // 2. If first is an exact power of 2, prepend first_hash.
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : [...proof];
  // 3. fn = first − 1, sn = second − 1.
  let fn = oldSize - 1;
  let sn = newSize - 1;
  // 4. While LSB(fn) is set, shift both right.
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // 5. fr = sr = the first value of the path.
  let fr = path[0] as Uint8Array;
  let sr = fr;
  // 6. For each subsequent value c:
  for (let i = 1; i < path.length; i++) {
    const c = path[i] as Uint8Array;
    // a. sn = 0 means the path is too long.
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      // b. c is a left sibling in both trees.
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      // Otherwise c is a right sibling that only the new tree has.
      sr = nodeHash(sr, c);
    }
    // c. shift both once.
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // 7. Both roots reproduced and the path reached the top.
  return sn === 0 && bytesEqual(fr, oldRoot) && bytesEqual(sr, newRoot);
}

function isPowerOfTwo(n: number): boolean {
  let p = 1;
  while (p < n) p *= 2;
  return p === n;
}
