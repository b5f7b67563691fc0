import { hash } from 'node:crypto';
import { AuditLogError, assertCount } from './errors.js';

/**
 * Merkle tree hashing, and which complete subtrees each root and proof is made of, exactly as RFC 9162 §2.1
 * (the same tree as RFC 6962 §2.1). Reading proofs from stored nodes is tree-store.ts; checking them is
 * proof-verification.ts. Nothing here is clever on purpose: an auditor should be able to check each function
 * against the RFC text named in its comment, and the published RFC 6962 vectors (test/audit/rfc6962-vectors.ts)
 * pin the bytes.
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
