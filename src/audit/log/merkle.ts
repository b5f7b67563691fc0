import { hash } from 'node:crypto';
import { AuditLogError, assertCount } from './errors.js';

/**
 * Merkle tree hashing, proofs and proof verification exactly as RFC 9162 §2.1 (the same tree as RFC 6962 §2.1).
 * Nothing here is clever on purpose: an auditor should be able to check each function against the RFC text
 * named in its comment, and the published RFC 6962 vectors (test/audit/rfc6962-vectors.ts) pin the bytes.
 *
 * Sizes and indices are plain numbers (exact to 2^53 − 1); "shift right" is written as halving so nothing is
 * truncated to 32 bits.
 */

export const HASH_SIZE = 32;

/** Hash of the empty tree: MTH({}) = SHA-256() (RFC 9162 §2.1.1). */
export const EMPTY_ROOT: Uint8Array = sha256(Buffer.alloc(0));

function sha256(data: Uint8Array): Uint8Array {
  return hash('sha256', data, 'buffer');
}

/** MTH({d}) = SHA-256(0x00 ‖ d). The 0x00/0x01 prefixes keep a leaf from ever passing for an inner node. */
export function leafHash(data: Uint8Array | string): Uint8Array {
  if (typeof data === 'string') return sha256(Buffer.from(`\u0000${data}`, 'utf8'));
  const input = Buffer.allocUnsafe(data.length + 1);
  input[0] = 0x00;
  input.set(data, 1);
  return sha256(input);
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const input = Buffer.allocUnsafe(1 + 2 * HASH_SIZE);
  input[0] = 0x01;
  input.set(left, 1);
  input.set(right, 1 + HASH_SIZE);
  return sha256(input);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** The largest power of two strictly less than n (n ≥ 2): the RFC's split point k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * MTH(D[n]) over leaf hashes, literally as RFC 9162 §2.1.1 defines it: split at the largest power of two
 * smaller than n. O(n) work, O(log n) stack. For streams use `Frontier` instead.
 */
export function rootFromLeaves(leafHashes: readonly Uint8Array[]): Uint8Array {
  const mth = (lo: number, hi: number): Uint8Array => {
    const n = hi - lo;
    if (n === 0) return EMPTY_ROOT;
    if (n === 1) return leafHashes[lo] as Uint8Array;
    const k = splitPoint(n);
    return nodeHash(mth(lo, lo + k), mth(lo + k, hi));
  };
  return mth(0, leafHashes.length);
}

/**
 * A complete subtree: the 2^level leaves [index·2^level, (index+1)·2^level). Every hash a proof needs is the
 * hash of one of these or a fold of a few, so a store that keeps them (keyed by (level, index)) serves any
 * proof in O(log n) reads. A node exists once its last leaf has been appended.
 */
export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/** Anything that can hand out stored complete-subtree hashes synchronously (memory, better-sqlite3). */
export interface NodeSource {
  /** Throws `NODE_UNAVAILABLE` when the node is not (yet) stored. */
  hashOf(node: NodeId): Uint8Array;
}

/** A tree store: the stored nodes plus how many leaves they cover. Proofs may use any size up to `size`. */
export interface TreeStore extends NodeSource {
  readonly size: number;
}

/** The asynchronous form (PostgreSQL): one round trip for all the nodes of a proof. Same order as asked. */
export interface AsyncNodeSource {
  hashesOf(nodes: readonly NodeId[]): Promise<readonly Uint8Array[]>;
}

/**
 * How to build a proof from stored nodes: one group per proof element, each group the complete subtrees
 * (left to right, strictly decreasing size) whose MTH is that element. Most groups have one node; a group has
 * several when the element is the hash of a right-edge subtree whose size is not a power of two.
 */
export type ProofPlan = readonly (readonly NodeId[])[];

function log2(p: number): number {
  let level = 0;
  while (2 ** level < p) level++;
  return level;
}

/**
 * The complete subtrees that make up [start, end), largest first. Valid for the ranges RFC 9162's recursion
 * produces, whose start is a multiple of the largest power of two ≤ their length; then MTH of the range is
 * these hashes folded right to left, because MTH splits at that same largest power of two.
 */
export function rangeNodes(start: number, end: number): NodeId[] {
  const nodes: NodeId[] = [];
  let at = start;
  while (at < end) {
    let p = 1;
    while (p * 2 <= end - at) p *= 2;
    if (at % p !== 0) throw new AuditLogError('INVALID_ARGUMENT', `range [${start}, ${end}) is not aligned`);
    nodes.push({ level: log2(p), index: at / p });
    at += p;
  }
  return nodes;
}

/**
 * The fewest complete subtrees that tile an arbitrary range [start, end), left to right (a "compact range":
 * sizes first grow while start is aligned, then shrink towards end). Appending them in order to a `Frontier`
 * at size `start` is the same as appending the leaves one by one, which is how hashing workers hand back a
 * chunk of leaves as a handful of hashes.
 */
export function compactRange(start: number, end: number): NodeId[] {
  assertCount(start, 'range start');
  assertCount(end, 'range end');
  const nodes: NodeId[] = [];
  let at = start;
  while (at < end) {
    let p = 1;
    while (at % (p * 2) === 0 && at + p * 2 <= end) p *= 2;
    nodes.push({ level: log2(p), index: at / p });
    at += p;
  }
  return nodes;
}

/** MTH of a group: fold right to left (`rangeNodes` order). */
export function foldGroup(hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length === 0) throw new AuditLogError('INVALID_ARGUMENT', 'empty node group');
  let acc = hashes[hashes.length - 1] as Uint8Array;
  for (let i = hashes.length - 2; i >= 0; i--) acc = nodeHash(hashes[i] as Uint8Array, acc);
  return acc;
}

/** The plan for MTH(D[0:size]): the left-to-right complete subtrees of the whole tree (its "frontier"). */
export function rootPlan(size: number): readonly NodeId[] {
  assertCount(size, 'tree size');
  return rangeNodes(0, size);
}

/**
 * PATH(m, D[n]) of RFC 9162 §2.1.3.1:
 *   PATH(0, {d0}) = {}
 *   m < k:  PATH(m, D[0:k]) : MTH(D[k:n])
 *   m ≥ k:  PATH(m − k, D[k:n]) : MTH(D[0:k])
 * with k the largest power of two smaller than n; `start` offsets D into the whole tree.
 */
export function inclusionPlan(index: number, size: number): ProofPlan {
  assertCount(index, 'leaf index');
  assertCount(size, 'tree size');
  if (index >= size) {
    throw new AuditLogError('INVALID_ARGUMENT', `leaf index ${index} is not in a tree of size ${size}`);
  }
  const path = (m: number, start: number, n: number): NodeId[][] => {
    if (n === 1) return [];
    const k = splitPoint(n);
    if (m < k) return [...path(m, start, k), rangeNodes(start + k, start + n)];
    return [...path(m - k, start + k, n - k), rangeNodes(start, start + k)];
  };
  return path(index, 0, size);
}

/**
 * PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 9162 §2.1.4.1:
 *   SUBPROOF(m, D[m], true) = {};  SUBPROOF(m, D[m], false) = {MTH(D[m])}
 *   m ≤ k:  SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
 *   m > k:  SUBPROOF(m − k, D[k:n], false) : MTH(D[0:k])
 *
 * Size 0 (our choice, see `verifyConsistency`): the empty tree is a prefix of every tree, so the proof from 0
 * is empty, as C2SP tlog-witness requires ("The proof MUST be empty if the old size is zero"). m = n is empty
 * too.
 */
export function consistencyPlan(oldSize: number, newSize: number): ProofPlan {
  assertCount(oldSize, 'old tree size');
  assertCount(newSize, 'new tree size');
  if (oldSize > newSize) {
    throw new AuditLogError('INVALID_ARGUMENT', `old size ${oldSize} is larger than new size ${newSize}`);
  }
  if (oldSize === 0 || oldSize === newSize) return [];
  const subproof = (m: number, start: number, n: number, b: boolean): NodeId[][] => {
    if (m === n) return b ? [] : [rangeNodes(start, start + n)];
    const k = splitPoint(n);
    if (m <= k) return [...subproof(m, start, k, b), rangeNodes(start + k, start + n)];
    return [...subproof(m - k, start + k, n - k, false), rangeNodes(start, start + k)];
  };
  return subproof(oldSize, 0, newSize, true);
}

/** The distinct nodes a plan reads, for one batched query. */
export function planNodes(plan: ProofPlan | readonly NodeId[]): NodeId[] {
  const seen = new Set<string>();
  const out: NodeId[] = [];
  for (const item of plan.flat()) {
    const key = `${item.level}/${item.index}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(item);
  }
  return out;
}

function checkHash(h: Uint8Array | undefined, node: NodeId): Uint8Array {
  if (!h || h.length !== HASH_SIZE) {
    throw new AuditLogError(
      'NODE_UNAVAILABLE',
      `no stored hash for node level ${node.level} index ${node.index}`,
    );
  }
  return h;
}

/** Turns a plan into proof hashes, reading each node from `source`. */
export function assembleProof(plan: ProofPlan, source: NodeSource): Uint8Array[] {
  return plan.map((group) => foldGroup(group.map((node) => checkHash(source.hashOf(node), node))));
}

/** Same as `assembleProof`, with one batched read. */
export async function assembleProofAsync(plan: ProofPlan, source: AsyncNodeSource): Promise<Uint8Array[]> {
  const nodes = planNodes(plan);
  const hashes = await source.hashesOf(nodes);
  const byKey = new Map<string, Uint8Array>();
  nodes.forEach((node, i) => {
    byKey.set(`${node.level}/${node.index}`, checkHash(hashes[i], node));
  });
  return assembleProof(plan, {
    hashOf: (node) => checkHash(byKey.get(`${node.level}/${node.index}`), node),
  });
}

function checkStoreSize(store: TreeStore, size: number): void {
  if (size > store.size) {
    throw new AuditLogError('NODE_UNAVAILABLE', `tree size ${size} is past the ${store.size} leaves stored`);
  }
}

/** RFC 9162 §2.1.3.1 inclusion proof of leaf `index` in the tree of `size` leaves (size ≤ store.size). */
export function inclusionProof(index: number, size: number, store: TreeStore): Uint8Array[] {
  checkStoreSize(store, size);
  return assembleProof(inclusionPlan(index, size), store);
}

/** RFC 9162 §2.1.4.1 consistency proof between sizes oldSize ≤ newSize (≤ store.size). */
export function consistencyProof(oldSize: number, newSize: number, store: TreeStore): Uint8Array[] {
  checkStoreSize(store, newSize);
  return assembleProof(consistencyPlan(oldSize, newSize), store);
}

export function inclusionProofAsync(
  index: number,
  size: number,
  source: AsyncNodeSource,
): Promise<Uint8Array[]> {
  return assembleProofAsync(inclusionPlan(index, size), source);
}

export function consistencyProofAsync(
  oldSize: number,
  newSize: number,
  source: AsyncNodeSource,
): Promise<Uint8Array[]> {
  return assembleProofAsync(consistencyPlan(oldSize, newSize), source);
}

/** MTH(D[0:size]) for any size up to store.size, from O(log n) stored nodes: checkpoints of past sizes. */
export function rootAt(size: number, store: TreeStore): Uint8Array {
  checkStoreSize(store, size);
  if (size === 0) return EMPTY_ROOT;
  return foldGroup(rootPlan(size).map((node) => checkHash(store.hashOf(node), node)));
}

export async function rootAtAsync(size: number, source: AsyncNodeSource): Promise<Uint8Array> {
  if (size === 0) return EMPTY_ROOT;
  const plan = rootPlan(size);
  const hashes = await source.hashesOf(plan);
  return foldGroup(plan.map((node, i) => checkHash(hashes[i], node)));
}

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
