import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashChunk, packChunk } from '../../src/audit/log/chunk.js';
import { Frontier } from '../../src/audit/log/frontier.js';
import { createMemoryTreeStore } from '../../src/audit/log/memory-tree-store.js';
import { compactRange, HASH_SIZE, leafHash, rootFromLeaves } from '../../src/audit/log/merkle.js';
import { verifyConsistency, verifyInclusion } from '../../src/audit/log/proof-verification.js';
import { consistencyProof, inclusionProof } from '../../src/audit/log/tree-store.js';

/** A tree of 1..max random leaves, its store, and every root by size. */
const tree = (max: number) =>
  fc.array(fc.uint8Array({ maxLength: 24 }), { minLength: 1, maxLength: max }).map((inputs) => {
    const leaves = inputs.map((d) => leafHash(d));
    const store = createMemoryTreeStore(leaves);
    const roots = Array.from({ length: leaves.length + 1 }, (_, size) => store.rootAt(size));
    return { leaves, store, roots, size: leaves.length };
  });

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const flip = (bytes: Uint8Array, at: number, bit: number): Uint8Array => {
  const copy = Uint8Array.from(bytes);
  copy[at % copy.length] = (copy[at % copy.length] as number) ^ (1 << bit);
  return copy;
};

describe('Merkle tree properties', () => {
  it('the RFC recursion, the frontier and the store agree on every root', () => {
    fc.assert(
      fc.property(tree(70), ({ leaves, roots }) => {
        const frontier = new Frontier();
        leaves.forEach((leaf, i) => {
          expect(roots[i]).toEqual(frontier.root());
          frontier.append(leaf);
        });
        expect(frontier.root()).toEqual(rootFromLeaves(leaves));
        expect(roots[leaves.length]).toEqual(rootFromLeaves(leaves));
      }),
    );
  });

  it('every inclusion proof verifies against the root of every later tree size', () => {
    fc.assert(
      fc.property(tree(40), ({ leaves, store, roots, size }) => {
        for (let index = 0; index < size; index++) {
          for (let s = index + 1; s <= size; s++) {
            const proof = inclusionProof(index, s, store);
            expect(
              verifyInclusion(leaves[index] as Uint8Array, index, s, proof, roots[s] as Uint8Array),
            ).toBe(true);
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it('consistency proofs verify between any two sizes m ≤ n (m = 0 included)', () => {
    fc.assert(
      fc.property(tree(40), ({ store, roots, size }) => {
        for (let n = 0; n <= size; n++) {
          for (let m = 0; m <= n; m++) {
            const proof = consistencyProof(m, n, store);
            expect(verifyConsistency(m, n, proof, roots[m] as Uint8Array, roots[n] as Uint8Array)).toBe(true);
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it('a flipped bit in the leaf, a proof hash or the root fails an inclusion proof', () => {
    fc.assert(
      fc.property(
        tree(100).chain((t) =>
          fc.record({
            t: fc.constant(t),
            index: fc.nat(t.size - 1),
            target: fc.constantFrom('leaf', 'proof', 'root'),
            at: fc.nat(HASH_SIZE - 1),
            bit: fc.nat(7),
            which: fc.nat(),
          }),
        ),
        ({ t, index, target, at, bit, which }) => {
          const proof = inclusionProof(index, t.size, t.store);
          let leaf = t.leaves[index] as Uint8Array;
          let root = t.roots[t.size] as Uint8Array;
          if (target === 'leaf') leaf = flip(leaf, at, bit);
          if (target === 'root') root = flip(root, at, bit);
          if (target === 'proof') {
            fc.pre(proof.length > 0);
            const i = which % proof.length;
            proof[i] = flip(proof[i] as Uint8Array, at, bit);
          }
          expect(verifyInclusion(leaf, index, t.size, proof, root)).toBe(false);
        },
      ),
    );
  });

  it('a flipped bit in a proof hash or either root fails a consistency proof', () => {
    fc.assert(
      fc.property(
        tree(100).chain((t) =>
          fc.record({
            t: fc.constant(t),
            m: fc.integer({ min: 1, max: t.size }),
            n: fc.constant(t.size),
            target: fc.constantFrom('old', 'new', 'proof'),
            at: fc.nat(HASH_SIZE - 1),
            bit: fc.nat(7),
            which: fc.nat(),
          }),
        ),
        ({ t, m, n, target, at, bit, which }) => {
          const proof = consistencyProof(m, n, t.store);
          let oldRoot = t.roots[m] as Uint8Array;
          let newRoot = t.roots[n] as Uint8Array;
          if (target === 'old') oldRoot = flip(oldRoot, at, bit);
          if (target === 'new') newRoot = flip(newRoot, at, bit);
          if (target === 'proof') {
            fc.pre(proof.length > 0);
            const i = which % proof.length;
            proof[i] = flip(proof[i] as Uint8Array, at, bit);
          }
          expect(verifyConsistency(m, n, proof, oldRoot, newRoot)).toBe(false);
        },
      ),
    );
  });

  it('a proof for one index or size does not pass for another', () => {
    fc.assert(
      fc.property(
        tree(64).chain((t) =>
          fc.record({ t: fc.constant(t), index: fc.nat(t.size - 1), other: fc.nat(t.size - 1) }),
        ),
        ({ t, index, other }) => {
          fc.pre(index !== other);
          const proof = inclusionProof(index, t.size, t.store);
          // The leaf at `index` claimed to sit at `other`: caught unless both leaves have the same hash.
          fc.pre(Buffer.compare(t.leaves[index] as Uint8Array, t.leaves[other] as Uint8Array) !== 0);
          expect(
            verifyInclusion(
              t.leaves[index] as Uint8Array,
              other,
              t.size,
              proof,
              t.roots[t.size] as Uint8Array,
            ),
          ).toBe(false);
        },
      ),
    );
  });

  it('chunks hashed apart (as workers do) fold into the same root at any offsets, for any leaf data', () => {
    const leafData = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.string({ unit: 'binary', maxLength: 700 }),
      fc.uint8Array({ maxLength: 300 }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.record({ data: leafData, purged: fc.boolean(), recorded: fc.boolean() }), {
          minLength: 1,
          maxLength: 80,
        }),
        fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 10 }),
        (items, cuts) => {
          const hashes = items.map((item) => leafHash(item.data));
          // Purged leaves travel as their recorded hash only; others may carry one to compare.
          const leaves = items.map((item, i) => ({
            data: item.purged ? null : item.data,
            leafHash: item.purged || item.recorded ? hashes[i] : null,
          }));
          const frontier = new Frontier();
          let at = 0;
          let c = 0;
          while (at < leaves.length) {
            const end = Math.min(leaves.length, at + (cuts[c++ % cuts.length] as number));
            const result = hashChunk(packChunk(at, leaves.slice(at, end)));
            expect(result.changedAt).toBe(-1);
            compactRange(at, end).forEach((node, i) => {
              frontier.appendSubtree(node.level, result.hashes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE));
            });
            at = end;
          }
          expect(hex(frontier.root())).toBe(hex(rootFromLeaves(hashes)));
        },
      ),
    );
  });

  it('a chunk names the first leaf whose data does not match its recorded hash', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 40 }), fc.nat(), (events, pick) => {
        const bad = pick % events.length;
        const leaves = events.map((data, i) => ({ data, leafHash: leafHash(i === bad ? `${data}!` : data) }));
        expect(hashChunk(packChunk(7, leaves)).changedAt).toBe(bad);
      }),
    );
  });

  it('a frontier restored from its own nodes continues identically', () => {
    fc.assert(
      fc.property(tree(50), fc.nat(), ({ leaves }, cut) => {
        const at = cut % (leaves.length + 1);
        const first = new Frontier();
        for (const l of leaves.slice(0, at)) first.append(l);
        const resumed = Frontier.restore(
          at,
          first.nodes().map((n) => n.hash),
        );
        for (const l of leaves.slice(at)) resumed.append(l);
        expect(resumed.root()).toEqual(rootFromLeaves(leaves));
      }),
    );
  });
});
