import { AuditLogError } from './errors.js';
import { Frontier } from './frontier.js';
import type { NodeId } from './merkle.js';
import type { TreeStore } from './tree-store.js';
import { rootAt } from './tree-store.js';

/**
 * Every complete subtree of the log, kept in memory: level ℓ holds one hash per 2^ℓ leaves. It is the
 * reference for what a database-backed store has to persist (the `onNode` stream of a `Frontier`), and what
 * tests and the benchmark prove against. About 2 × 32 bytes per leaf.
 */
export interface MemoryTreeStore extends TreeStore {
  append(leafHash: Uint8Array): void;
  /** MTH at the current size. */
  root(): Uint8Array;
  /** MTH at any past size, from O(log n) stored nodes. */
  rootAt(size: number): Uint8Array;
}

export function createMemoryTreeStore(leafHashes: Iterable<Uint8Array> = []): MemoryTreeStore {
  const levels: Uint8Array[][] = [];
  const frontier = new Frontier();
  const keep = (node: NodeId, hash: Uint8Array): void => {
    const level = levels[node.level] ?? [];
    levels[node.level] = level;
    // Nodes complete in index order on every level, so each new one is the next slot.
    level[node.index] = hash;
  };
  const store: MemoryTreeStore = {
    get size() {
      return frontier.size;
    },
    hashOf(node) {
      const h = levels[node.level]?.[node.index];
      if (!h) {
        throw new AuditLogError(
          'NODE_UNAVAILABLE',
          `node level ${node.level} index ${node.index} is not stored`,
        );
      }
      return h;
    },
    append(leafHash) {
      frontier.append(leafHash, keep);
    },
    root() {
      return frontier.root();
    },
    rootAt(size) {
      return rootAt(size, store);
    },
  };
  for (const h of leafHashes) store.append(h);
  return store;
}
