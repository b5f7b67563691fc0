import { AuditLogError } from './errors.js';
import {
  consistencyPlan,
  EMPTY_ROOT,
  foldGroup,
  HASH_SIZE,
  inclusionPlan,
  type NodeId,
  type ProofPlan,
  planNodes,
  rootPlan,
} from './merkle.js';

/**
 * Proofs and past roots read from stored complete-subtree hashes (merkle.ts says which nodes each needs): the
 * server's side of RFC 9162 §2.1.3.1 and §2.1.4.1, over memory, better-sqlite3 or PostgreSQL.
 */

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
