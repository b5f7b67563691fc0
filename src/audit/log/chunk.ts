import { hash } from 'node:crypto';
import { compactRange, HASH_SIZE } from './merkle.js';

/**
 * A run of consecutive leaves packed for a hashing worker: flat typed arrays, so posting it moves buffers
 * instead of copying thousands of small objects, and so the worker needs nothing but node:crypto.
 *
 * Leaf i's input is data[offsets[i], offsets[i+1]): the 0x00 leaf prefix followed by the event bytes. Packing
 * the prefix in lets the worker hash each leaf straight from a subarray, with no per-leaf allocation.
 */
export interface ChunkTask {
  /** Index of the first leaf in the whole tree (fixes which complete subtrees the chunk folds into). */
  readonly start: number;
  readonly count: number;
  readonly data: Uint8Array;
  readonly offsets: Uint32Array;
  /** Per leaf: HASH, HASH_AND_COMPARE with the recorded hash, or RECORDED (payload purged, use the hash). */
  readonly kinds: Uint8Array;
  /** 32 bytes per leaf (empty when no leaf has a recorded hash); only slots of leaves whose kind uses them. */
  readonly recorded: Uint8Array;
}

export const LeafKind = { HASH: 0, HASH_AND_COMPARE: 1, RECORDED: 2 } as const;

export interface ChunkResult {
  /** Offset in the chunk of the first leaf whose data does not hash to its recorded hash, or −1. */
  readonly changedAt: number;
  /** The hashes of `compactRange(start, start + count)`, 32 bytes each, in order. */
  readonly hashes: Uint8Array;
}

/** A packable leaf: the event bytes (null once purged) and the leaf hash recorded with it, if any. */
export interface PackableLeaf {
  readonly data: string | Uint8Array | null;
  readonly leafHash?: Uint8Array | null | undefined;
}

/**
 * Packs leaves one at a time as they are read, straight into the buffers that will be posted, so the reading
 * thread keeps no per-record objects alive and walks each string once (the hashing threads are the ones that
 * should be busy). `take()` hands over the chunk and starts the next one where it ended.
 */
export class ChunkBuilder {
  #start: number;
  readonly #capacity: number;
  #count = 0;
  #at = 0;
  #data: Buffer;
  #offsets: Uint32Array;
  #kinds: Uint8Array;
  #recorded: Uint8Array | null = null;

  constructor(start: number, capacity: number) {
    this.#start = start;
    this.#capacity = capacity;
    this.#data = ChunkBuilder.#alloc(capacity * 256);
    this.#offsets = new Uint32Array(capacity + 1);
    this.#kinds = new Uint8Array(capacity);
  }

  // allocUnsafeSlow: a buffer of its own (never a slice of Node's shared pool), so it can be transferred.
  static #alloc(bytes: number): Buffer {
    return Buffer.allocUnsafeSlow(Math.max(bytes, 64));
  }

  get count(): number {
    return this.#count;
  }

  /** Index of the leaf after the last one added. */
  get end(): number {
    return this.#start + this.#count;
  }

  add(leaf: PackableLeaf): void {
    const i = this.#count;
    if (i >= this.#capacity) throw new Error('chunk is full');
    this.#offsets[i] = this.#at;
    const d = leaf.data;
    if (d === null) {
      this.#kinds[i] = LeafKind.RECORDED;
    } else {
      // A UTF-16 code unit never takes more than 3 UTF-8 bytes, so this bound makes the write below whole.
      this.#reserve(1 + (typeof d === 'string' ? 3 * d.length : d.length));
      this.#data[this.#at++] = 0x00;
      if (typeof d === 'string') {
        this.#at += this.#data.write(d, this.#at, 'utf8');
      } else {
        this.#data.set(d, this.#at);
        this.#at += d.length;
      }
      this.#kinds[i] = leaf.leafHash ? LeafKind.HASH_AND_COMPARE : LeafKind.HASH;
    }
    if (leaf.leafHash) {
      this.#recorded ??= new Uint8Array(this.#capacity * HASH_SIZE);
      this.#recorded.set(leaf.leafHash, i * HASH_SIZE);
    }
    this.#count++;
  }

  #reserve(bytes: number): void {
    if (this.#at + bytes <= this.#data.length) return;
    const bigger = ChunkBuilder.#alloc(Math.max(2 * this.#data.length, this.#at + bytes));
    this.#data.copy(bigger, 0, 0, this.#at);
    this.#data = bigger;
  }

  /** The chunk so far (the builder then continues at `end` with fresh buffers). */
  take(): ChunkTask {
    const count = this.#count;
    this.#offsets[count] = this.#at;
    const task: ChunkTask = {
      start: this.#start,
      count,
      data: this.#data.subarray(0, this.#at),
      offsets: this.#offsets.subarray(0, count + 1),
      kinds: this.#kinds.subarray(0, count),
      recorded: this.#recorded ?? new Uint8Array(0),
    };
    this.#start += count;
    this.#count = 0;
    this.#at = 0;
    this.#data = ChunkBuilder.#alloc(this.#data.length);
    this.#offsets = new Uint32Array(this.#capacity + 1);
    this.#kinds = new Uint8Array(this.#capacity);
    this.#recorded = null;
    return task;
  }
}

/** All of `leaves` as one chunk starting at leaf `start`. */
export function packChunk(start: number, leaves: readonly PackableLeaf[]): ChunkTask {
  const builder = new ChunkBuilder(start, leaves.length);
  for (const leaf of leaves) builder.add(leaf);
  return builder.take();
}

/**
 * Hashes the leaves of a chunk and folds them into the chunk's compact range. Pure; it runs in a worker, but
 * tests call it directly. Work: one SHA-256 per leaf plus one per inner node of the chunk's subtrees.
 */
export function hashChunk(task: ChunkTask): ChunkResult {
  const { start, count, offsets, kinds, recorded } = task;
  const data = Buffer.from(task.data.buffer, task.data.byteOffset, task.data.byteLength);
  const rec = Buffer.from(recorded.buffer, recorded.byteOffset, recorded.byteLength);
  const leaves: Buffer[] = new Array(count);
  let changedAt = -1;
  for (let i = 0; i < count; i++) {
    const kind = kinds[i];
    if (kind === LeafKind.RECORDED) {
      leaves[i] = rec.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
      continue;
    }
    const leaf = hash('sha256', data.subarray(offsets[i], offsets[i + 1]), 'buffer');
    if (kind === LeafKind.HASH_AND_COMPARE) {
      if (Buffer.compare(leaf, rec.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE)) !== 0) {
        changedAt = i;
        break;
      }
    }
    leaves[i] = leaf;
  }
  // A changed leaf is the verdict; the subtree hashes would not be used.
  if (changedAt >= 0) return { changedAt, hashes: new Uint8Array(0) };
  // One scratch buffer for every inner node: 0x01 ‖ left ‖ right.
  const scratch = Buffer.allocUnsafe(1 + 2 * HASH_SIZE);
  scratch[0] = 0x01;
  const pieces = compactRange(start, start + count);
  const out = new Uint8Array(pieces.length * HASH_SIZE);
  let offset = 0;
  pieces.forEach((piece, p) => {
    let width = 2 ** piece.level;
    // Fold this piece's leaves pairwise, level by level, in place in `leaves`.
    while (width > 1) {
      width /= 2;
      for (let j = 0; j < width; j++) {
        scratch.set(leaves[offset + 2 * j] as Buffer, 1);
        scratch.set(leaves[offset + 2 * j + 1] as Buffer, 1 + HASH_SIZE);
        leaves[offset + j] = hash('sha256', scratch, 'buffer');
      }
    }
    out.set(leaves[offset] as Buffer, p * HASH_SIZE);
    offset += 2 ** piece.level;
  });
  return { changedAt, hashes: out };
}
