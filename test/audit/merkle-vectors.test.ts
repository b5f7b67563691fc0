import { describe, expect, it } from 'vitest';
import { Frontier } from '../../src/audit/log/frontier.js';
import { createMemoryTreeStore } from '../../src/audit/log/memory-tree-store.js';
import {
  consistencyPlan,
  EMPTY_ROOT,
  inclusionPlan,
  leafHash,
  type NodeId,
  nodeHash,
  type ProofPlan,
  rootFromLeaves,
} from '../../src/audit/log/merkle.js';
import { verifyConsistency, verifyInclusion } from '../../src/audit/log/proof-verification.js';
import {
  consistencyProof,
  consistencyProofAsync,
  inclusionProof,
  inclusionProofAsync,
} from '../../src/audit/log/tree-store.js';
import {
  CONSISTENCY_NODES,
  CONSISTENCY_PROOFS,
  INCLUSION_NODES,
  INCLUSION_PROOFS,
  LEAF_INPUTS,
  NODE_HASHES,
  ROOT_HASHES,
  SOME_HASH,
} from './rfc6962-vectors.js';

const h = (hex: string): Buffer => Buffer.from(hex, 'hex');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const leaves = LEAF_INPUTS.map((input) => leafHash(h(input)));
const store = createMemoryTreeStore(leaves);
const root = (size: number): Buffer => h(ROOT_HASHES[size] as string);

describe('RFC 6962 hashing (transparency-dev/merkle testonly/constants.go)', () => {
  it('leaf hashes are the level-0 node hashes', () => {
    expect(leaves.map(hex)).toEqual(NODE_HASHES[0]);
  });

  it('the empty root is SHA-256 of nothing', () => {
    expect(hex(EMPTY_ROOT)).toBe(ROOT_HASHES[0]);
  });

  it('every complete subtree hash matches, stored by (level, index)', () => {
    NODE_HASHES.forEach((level, l) => {
      level.forEach((expected, i) => {
        expect(hex(store.hashOf({ level: l, index: i }))).toBe(expected);
      });
    });
    expect(hex(nodeHash(leaves[0] as Uint8Array, leaves[1] as Uint8Array))).toBe(NODE_HASHES[1]?.[0]);
  });

  it('roots for sizes 0..8 match by the RFC recursion, the frontier and the store', () => {
    const frontier = new Frontier();
    for (let size = 0; size <= 8; size++) {
      expect(hex(rootFromLeaves(leaves.slice(0, size))), `MTH size ${size}`).toBe(ROOT_HASHES[size]);
      expect(hex(frontier.root()), `frontier size ${size}`).toBe(ROOT_HASHES[size]);
      expect(hex(store.rootAt(size)), `store size ${size}`).toBe(ROOT_HASHES[size]);
      if (size < 8) frontier.append(leaves[size] as Uint8Array);
    }
  });

  it('a string leaf hashes its UTF-8 bytes', () => {
    expect(hex(leafHash('\u0010'))).toBe(NODE_HASHES[0]?.[2]);
  });
});

/** Corruptions in the spirit of verify_test.go's corruptInclusionProof: each must fail. */
function inclusionProbes(index: number, size: number, proof: Uint8Array[], leaf: Uint8Array, r: Uint8Array) {
  const probes: [string, () => boolean][] = [
    ['index - 1', () => index > 0 && verifyInclusion(leaf, index - 1, size, proof, r)],
    ['index + 1', () => verifyInclusion(leaf, index + 1, size, proof, r)],
    ['index ^ 2', () => verifyInclusion(leaf, index ^ 2, size, proof, r)],
    ['size * 2', () => verifyInclusion(leaf, index, size * 2, proof, r)],
    ['size / 2', () => verifyInclusion(leaf, index, Math.floor(size / 2), proof, r)],
    ['wrong leaf', () => verifyInclusion(Buffer.from('WrongLeaf'), index, size, proof, r)],
    ['empty root', () => verifyInclusion(leaf, index, size, proof, EMPTY_ROOT)],
    ['random root', () => verifyInclusion(leaf, index, size, proof, h(SOME_HASH))],
    ['trailing garbage', () => verifyInclusion(leaf, index, size, [...proof, Buffer.alloc(0)], r)],
    ['trailing root', () => verifyInclusion(leaf, index, size, [...proof, r], r)],
    ['preceding garbage', () => verifyInclusion(leaf, index, size, [Buffer.alloc(0), ...proof], r)],
    ['preceding root', () => verifyInclusion(leaf, index, size, [r, ...proof], r)],
  ];
  proof.forEach((_, i) => {
    const wrong = proof.map((p) => Buffer.from(p));
    const w = wrong[i] as Buffer;
    w[0] = (w[0] as number) ^ 8;
    probes.push([`flipped proof[${i}]`, () => verifyInclusion(leaf, index, size, wrong, r)]);
  });
  if (proof.length > 0)
    probes.push(['removed', () => verifyInclusion(leaf, index, size, proof.slice(0, -1), r)]);
  if (proof.length > 1) {
    const inserted = [proof[0] as Uint8Array, h(SOME_HASH), ...proof.slice(1)];
    probes.push(['inserted', () => verifyInclusion(leaf, index, size, inserted, r)]);
  }
  return probes;
}

describe('inclusion proofs (transparency-dev/merkle proof/verify_test.go)', () => {
  for (const v of INCLUSION_PROOFS) {
    it(`leaf ${v.index} in size ${v.size}: generated, verified, and corruptions rejected`, () => {
      const proof = v.proof.map(h);
      expect(inclusionProof(v.index, v.size, store).map(hex)).toEqual(v.proof);
      const leaf = leaves[v.index] as Uint8Array;
      expect(verifyInclusion(leaf, v.index, v.size, proof, root(v.size))).toBe(true);
      for (const [name, probe] of inclusionProbes(v.index, v.size, proof, leaf, root(v.size))) {
        expect(probe(), name).toBe(false);
      }
    });
  }

  it('fails for index ≥ size, including the empty tree (verify_test.go TestVerifyInclusion)', () => {
    for (const [index, size] of [
      [0, 0],
      [1, 0],
      [2, 1],
    ] as const) {
      expect(verifyInclusion(h(SOME_HASH), index, size, [], EMPTY_ROOT)).toBe(false);
    }
    // A single-leaf tree: the root is the leaf, and hashes of the wrong length never verify.
    const one = leafHash('data');
    expect(verifyInclusion(one, 0, 1, [], one)).toBe(true);
    expect(verifyInclusion(one, 0, 1, [], Buffer.alloc(0))).toBe(false);
    expect(verifyInclusion(Buffer.alloc(0), 0, 1, [], one)).toBe(false);
  });

  it('every leaf of every size 1..8 proves against the published root of that size', () => {
    for (let size = 1; size <= 8; size++) {
      for (let index = 0; index < size; index++) {
        const proof = inclusionProof(index, size, store);
        expect(verifyInclusion(leaves[index] as Uint8Array, index, size, proof, root(size))).toBe(true);
      }
    }
  });
});

function consistencyProbes(m: number, n: number, proof: Uint8Array[], r1: Uint8Array, r2: Uint8Array) {
  const probes: [string, () => boolean][] = [
    ['size1 - 1', () => verifyConsistency(m - 1, n, proof, r1, r2)],
    ['size1 + 1', () => m + 1 <= n && verifyConsistency(m + 1, n, proof, r1, r2)],
    ['size1 ^ 2', () => (m ^ 2) <= n && verifyConsistency(m ^ 2, n, proof, r1, r2)],
    ['size2 * 2', () => verifyConsistency(m, n * 2, proof, r1, r2)],
    ['size2 / 2', () => verifyConsistency(m, Math.floor(n / 2), proof, r1, r2)],
    ['wrong root1', () => verifyConsistency(m, n, proof, Buffer.from('WrongRoot'), r2)],
    ['wrong root2', () => verifyConsistency(m, n, proof, r1, Buffer.from('WrongRoot'))],
    ['swapped roots', () => verifyConsistency(m, n, proof, r2, r1)],
    ['empty proof', () => verifyConsistency(m, n, [], r1, r2)],
    ['trailing garbage', () => verifyConsistency(m, n, [...proof, Buffer.alloc(0)], r1, r2)],
    ['trailing root1', () => verifyConsistency(m, n, [...proof, r1], r1, r2)],
    ['trailing root2', () => verifyConsistency(m, n, [...proof, r2], r1, r2)],
    ['preceding garbage', () => verifyConsistency(m, n, [Buffer.alloc(0), ...proof], r1, r2)],
    ['preceding root1', () => verifyConsistency(m, n, [r1, ...proof], r1, r2)],
    ['preceding root2', () => verifyConsistency(m, n, [r2, ...proof], r1, r2)],
    ['preceding proof[0]', () => verifyConsistency(m, n, [proof[0] as Uint8Array, ...proof], r1, r2)],
    ['truncated', () => verifyConsistency(m, n, proof.slice(0, -1), r1, r2)],
  ];
  proof.forEach((_, i) => {
    const wrong = proof.map((p) => Buffer.from(p));
    const w = wrong[i] as Buffer;
    w[0] = (w[0] as number) ^ 16;
    probes.push([`flipped proof[${i}]`, () => verifyConsistency(m, n, wrong, r1, r2)]);
  });
  return probes;
}

describe('consistency proofs (transparency-dev/merkle proof/verify_test.go)', () => {
  for (const v of CONSISTENCY_PROOFS) {
    it(`${v.size1} → ${v.size2}: generated, verified, and corruptions rejected`, () => {
      const proof = v.proof.map(h);
      expect(consistencyProof(v.size1, v.size2, store).map(hex)).toEqual(v.proof);
      expect(verifyConsistency(v.size1, v.size2, proof, root(v.size1), root(v.size2))).toBe(true);
      if (proof.length === 0) return; // the source only corrupts non-trivial proofs
      for (const [name, probe] of consistencyProbes(v.size1, v.size2, proof, root(v.size1), root(v.size2))) {
        expect(probe(), name).toBe(false);
      }
    });
  }

  it('every pair 1 ≤ m ≤ n ≤ 8 verifies against the published roots', () => {
    for (let n = 1; n <= 8; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(m, n, store);
        expect(verifyConsistency(m, n, proof, root(m), root(n)), `${m} → ${n}`).toBe(true);
      }
    }
  });

  it('the edge table of TestVerifyConsistency, with our documented size-0 rule', () => {
    const root1 = Buffer.from("don't care 1".padEnd(32, '.'));
    const root2 = Buffer.from("don't care 2".padEnd(32, '.'));
    const emptyProof: Uint8Array[] = [];
    const nonEmpty = [EMPTY_ROOT];
    // Unchanged from the source:
    expect(verifyConsistency(0, 0, emptyProof, root1, root2)).toBe(false);
    expect(verifyConsistency(1, 1, emptyProof, root1, root2)).toBe(false);
    expect(verifyConsistency(1, 1, emptyProof, root2, root2)).toBe(true);
    expect(verifyConsistency(1, 0, emptyProof, root1, root2)).toBe(false); // time travel
    expect(verifyConsistency(2, 1, emptyProof, root1, root2)).toBe(false);
    expect(verifyConsistency(1, 2, emptyProof, root1, root2)).toBe(false); // empty proof
    expect(verifyConsistency(0, 0, nonEmpty, EMPTY_ROOT, EMPTY_ROOT)).toBe(false); // proof must be empty
    expect(verifyConsistency(0, 1, nonEmpty, EMPTY_ROOT, EMPTY_ROOT)).toBe(false);
    expect(verifyConsistency(1, 1, nonEmpty, EMPTY_ROOT, EMPTY_ROOT)).toBe(false);
    // Size 0. transparency-dev/merkle's verifier now rejects any proof from size 0 ("meaningless"), and an
    // older version accepted {0, 1} with any roots. OUR CHOICE: the empty tree is a prefix of every tree, so
    // an EMPTY proof from size 0 verifies — but only if the old root really is the empty tree's root.
    expect(verifyConsistency(0, 0, emptyProof, EMPTY_ROOT, EMPTY_ROOT)).toBe(true);
    expect(verifyConsistency(0, 1, emptyProof, EMPTY_ROOT, root(1))).toBe(true);
    expect(verifyConsistency(0, 8, emptyProof, EMPTY_ROOT, root(8))).toBe(true);
    expect(verifyConsistency(0, 1, emptyProof, root1, root2)).toBe(false); // old root is not MTH({})
    expect(verifyConsistency(0, 8, emptyProof, root(8), root(8))).toBe(false);
    expect(consistencyProof(0, 8, store)).toEqual([]); // what a C2SP witness expects after "old 0"
  });
});

/** proof_test.go's node IDs, with each `rehash` run turned into one left-to-right group (ours). */
function groups(ids: readonly (readonly [number, number])[], rehash?: readonly [number, number]): NodeId[][] {
  const node = ([level, index]: readonly [number, number]): NodeId => ({ level, index });
  if (!rehash) return ids.map((id) => [node(id)]);
  const [begin, end] = rehash;
  return [
    ...ids.slice(0, begin).map((id) => [node(id)]),
    ids.slice(begin, end).map(node).reverse(),
    ...ids.slice(end).map((id) => [node(id)]),
  ];
}

const plain = (plan: ProofPlan) => plan.map((g) => g.map((n) => ({ level: n.level, index: n.index })));

describe('which stored nodes a proof reads (transparency-dev/merkle proof/proof_test.go)', () => {
  for (const v of INCLUSION_NODES) {
    it(`inclusion of ${v.index} in ${v.size}`, () => {
      expect(plain(inclusionPlan(v.index, v.size))).toEqual(groups(v.ids, v.rehash));
    });
  }
  for (const v of CONSISTENCY_NODES) {
    it(`consistency ${v.size1} → ${v.size2}`, () => {
      expect(plain(consistencyPlan(v.size1, v.size2))).toEqual(groups(v.ids, v.rehash));
    });
  }

  it('the asynchronous form reads each node once, in one batch, and gives the same proofs', async () => {
    const batches: NodeId[][] = [];
    const source = {
      hashesOf: async (nodes: readonly NodeId[]) => {
        batches.push([...nodes]);
        return nodes.map((n) => store.hashOf(n));
      },
    };
    expect(await inclusionProofAsync(2, 7, source)).toEqual(inclusionProof(2, 7, store));
    expect(await consistencyProofAsync(3, 7, source)).toEqual(consistencyProof(3, 7, store));
    expect(batches).toHaveLength(2);
  });

  it('refuses proofs past what the store holds, and impossible arguments', () => {
    expect(() => inclusionProof(0, 9, store)).toThrow(expect.objectContaining({ code: 'NODE_UNAVAILABLE' }));
    expect(() => inclusionPlan(8, 8)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => consistencyPlan(5, 4)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => inclusionPlan(-1, 4)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => verifyInclusion(leaves[0] as Uint8Array, 0.5, 4, [], root(4))).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});
