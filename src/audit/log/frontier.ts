import { AuditLogError, assertCount } from './errors.js';
import { EMPTY_ROOT, foldGroup, HASH_SIZE, type NodeId, nodeHash, rootPlan } from './merkle.js';

/** Called for every complete subtree that appending creates: the nodes a tree store persists. */
export type OnNode = (node: NodeId, hash: Uint8Array) => void;

/**
 * The right edge of a growing tree: one hash per complete subtree in the decomposition of [0, size), largest
 * first (at most 53 of them). It is all the state needed to keep appending and to compute MTH at the current
 * size, so a verifier streams any number of events in O(log n) memory, and an appender can resume from the
 * few nodes it stored last (`Frontier.restore`).
 */
export class Frontier {
  readonly #levels: number[] = [];
  readonly #hashes: Uint8Array[] = [];
  #size = 0;

  /** Resumes at `size` from the hashes of `rootPlan(size)` (left to right), e.g. read back from a store. */
  static restore(size: number, hashes: readonly Uint8Array[]): Frontier {
    const plan = rootPlan(size);
    if (hashes.length !== plan.length || hashes.some((h) => h.length !== HASH_SIZE)) {
      throw new AuditLogError(
        'INVALID_ARGUMENT',
        `a frontier at size ${size} has ${plan.length} hashes of ${HASH_SIZE} bytes, got ${hashes.length}`,
      );
    }
    const f = new Frontier();
    plan.forEach((node, i) => {
      f.#levels.push(node.level);
      f.#hashes.push(hashes[i] as Uint8Array);
    });
    f.#size = size;
    return f;
  }

  get size(): number {
    return this.#size;
  }

  append(leaf: Uint8Array, onNode?: OnNode): void {
    this.appendSubtree(0, leaf, onNode);
  }

  /**
   * Appends a complete subtree of 2^level leaves whose hash was computed elsewhere (a hashing worker). The
   * current size must be a multiple of 2^level, so the subtree sits where a tree of leaves would put it.
   */
  appendSubtree(level: number, hash: Uint8Array, onNode?: OnNode): void {
    const width = 2 ** level;
    if (!Number.isInteger(level) || level < 0 || this.#size % width !== 0) {
      throw new AuditLogError(
        'INVALID_ARGUMENT',
        `a level-${level} subtree cannot start at leaf ${this.#size}`,
      );
    }
    if (hash.length !== HASH_SIZE)
      throw new AuditLogError('INVALID_ARGUMENT', 'subtree hash must be 32 bytes');
    assertCount(this.#size + width, 'tree size');
    onNode?.({ level, index: this.#size / width }, hash);
    this.#levels.push(level);
    this.#hashes.push(hash);
    this.#size += width;
    // Two equal neighbours on the edge are the two halves of a now-complete parent.
    for (let n = this.#levels.length; n >= 2 && this.#levels[n - 1] === this.#levels[n - 2]; n--) {
      const right = this.#hashes.pop() as Uint8Array;
      const left = this.#hashes.pop() as Uint8Array;
      const parentLevel = (this.#levels.pop() as number) + 1;
      this.#levels.pop();
      const parent = nodeHash(left, right);
      this.#levels.push(parentLevel);
      this.#hashes.push(parent);
      onNode?.({ level: parentLevel, index: this.#size / 2 ** parentLevel - 1 }, parent);
    }
  }

  /** MTH of the leaves so far: the edge folded right to left (RFC 9162's split is the same decomposition). */
  root(): Uint8Array {
    return this.#hashes.length === 0 ? EMPTY_ROOT : foldGroup(this.#hashes);
  }

  /** The edge as stored nodes, left to right: exactly `rootPlan(size)`. */
  nodes(): { node: NodeId; hash: Uint8Array }[] {
    let start = 0;
    return this.#levels.map((level, i) => {
      const width = 2 ** level;
      const node = { level, index: start / width };
      start += width;
      return { node, hash: this.#hashes[i] as Uint8Array };
    });
  }

  clone(): Frontier {
    return Frontier.restore(this.#size, this.#hashes);
  }
}
