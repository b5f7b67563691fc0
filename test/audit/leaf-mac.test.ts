import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkLeafMac, LEAF_MAC_INFO, leafMac, leafMacKeys } from '../../src/audit/log/leaf-mac.js';
import {
  compress,
  digestInto,
  expand,
  loadBlock,
  midstate,
  newSchedule,
  paddingBlock,
} from '../../src/audit/log/sha256-block.js';
import { parseSkey, skeyFor } from '../../src/audit/log/signed-note.js';

/**
 * The leaf MAC is computed with a JavaScript SHA-256 compression from keyed midstates (cheaper per leaf than
 * node:crypto's objects); these tests hold it to the standard: FIPS 180-4's examples, node:crypto's SHA-256 and
 * HMAC-SHA256 on random inputs, and vectors computed outside Node (Python's hmac/hashlib).
 */

const DOMAIN = Buffer.from('stint-audit-leaf-mac/v1\n', 'utf8');
const seq8 = (seq: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(seq));
  return b;
};
const hex = (h: Int32Array) => {
  const out = Buffer.alloc(32);
  digestInto(h, out, 0);
  return out.toString('hex');
};

describe('SHA-256 compression (sha256-block)', () => {
  it('gives the FIPS 180-4 one-block and two-block example digests', () => {
    // "abc", padded by hand to one block: 0x80, zeros, the bit length 24.
    const abc = Buffer.alloc(64);
    abc.write('abc');
    abc[3] = 0x80;
    abc[63] = 24;
    expect(hex(midstate(abc))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');

    const text = Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq');
    const first = Buffer.alloc(64);
    text.copy(first);
    first[text.length] = 0x80;
    const h = midstate(first);
    const w = newSchedule();
    loadBlock(w, Buffer.alloc(64));
    w[15] = text.length * 8;
    expand(w);
    compress(h, w);
    expect(hex(h)).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  });

  it('matches node:crypto on random two-block messages ending with the shared padding block', () => {
    const padding = paddingBlock(128);
    for (let i = 0; i < 200; i++) {
      const message = randomBytes(128);
      const h = midstate(message.subarray(0, 64));
      const w = newSchedule();
      loadBlock(w, message, 64);
      expand(w);
      compress(h, w);
      compress(h, padding);
      expect(hex(h)).toBe(createHash('sha256').update(message).digest('hex'));
    }
  });
});

describe('leaf MAC', () => {
  const seed = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const signer = parseSkey(skeyFor('example.com/log', seed));
  const keys = leafMacKeys([signer]);
  const K = signer.deriveKey(LEAF_MAC_INFO);
  const entry = (seq: number, leaf: Uint8Array, key: Uint8Array = K) =>
    createHmac('sha256', key).update(DOMAIN).update(seq8(seq)).update(leaf).digest('hex');

  it('is key ID ‖ HMAC-SHA256(K, DOMAIN ‖ seq ‖ leaf hash), as computed outside Node', () => {
    // Python: K = HKDF-SHA256(seed 01..20, salt "", info "stint audit leaf MAC v1"); hmac.new(K, …, sha256).
    const vectors: [number, Buffer, string][] = [
      [0, Buffer.alloc(32, 0xaa), '7e14f688298f61f7055521992849a33c9ad1106a6bc33402b73628e08d6efd6f'],
      [
        2 ** 32 + 5,
        Buffer.from(Array.from({ length: 32 }, (_, i) => i)),
        'b592e59f41cd22d79f72bece3fa034add4fe22e77950d5454b6055bf3a5c25c0',
      ],
      [
        2 ** 53 - 1,
        Buffer.alloc(32, 0xff),
        '2078e3540df073adaf02adcd544bb8b4489e962c689eb82d92f493f63d26232d',
      ],
    ];
    for (const [seq, leaf, tag] of vectors) {
      const mac = leafMac(keys, seq, leaf);
      expect(mac.readUInt32BE(0)).toBe(signer.keyId >>> 0);
      expect(mac.subarray(4).toString('hex')).toBe(tag);
    }
  });

  it("matches node:crypto's HMAC-SHA256 for random leaves, seqs across 32-bit boundaries and two keys", () => {
    const other = parseSkey(skeyFor('example.com/log', randomBytes(32)));
    const both = leafMacKeys([signer, other]);
    const otherK = other.deriveKey(LEAF_MAC_INFO);
    const seqs = [0, 1, 255, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3, 2 ** 53 - 1];
    for (let i = 0; i < 300; i++) seqs.push(Math.floor(Math.random() * 2 ** 53));
    for (const seq of seqs) {
      const leaf = randomBytes(32);
      const mac = leafMac(both, seq, leaf);
      expect(mac.length).toBe(72);
      expect(mac.subarray(4, 36).toString('hex')).toBe(entry(seq, leaf));
      expect(mac.readUInt32BE(36)).toBe(other.keyId >>> 0);
      expect(mac.subarray(40).toString('hex')).toBe(entry(seq, leaf, otherK));
      expect(checkLeafMac(both, seq, leaf, mac)).toBe('ok');
    }
  });

  it('refuses a MAC for another seq, another leaf hash, a flipped bit, another key or a cut leaf hash', () => {
    const leaf = randomBytes(32);
    const mac = leafMac(keys, 42, leaf);
    expect(checkLeafMac(keys, 42, leaf, mac)).toBe('ok');
    expect(checkLeafMac(keys, 43, leaf, mac)).toBe('bad');
    expect(checkLeafMac(keys, 42 + 2 ** 32, leaf, mac)).toBe('bad');
    expect(checkLeafMac(keys, 42, randomBytes(32), mac)).toBe('bad');
    for (const bit of [32, 100, 287]) {
      const flipped = Buffer.from(mac);
      flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7));
      expect(checkLeafMac(keys, 42, leaf, flipped)).toBe('bad');
    }
    // Same key ID, another key (a store writer guessing): the tag does not verify.
    const forged = Buffer.concat([
      mac.subarray(0, 4),
      createHmac('sha256', randomBytes(32)).update(leaf).digest(),
    ]);
    expect(checkLeafMac(keys, 42, leaf, forged)).toBe('bad');
    // A leaf hash cut short with a zero last byte must not pass for the 32-byte one.
    const zeroEnded = Buffer.from(leaf);
    zeroEnded[31] = 0;
    expect(checkLeafMac(keys, 42, zeroEnded.subarray(0, 31), leafMac(keys, 42, zeroEnded))).toBe('bad');
    expect(() => leafMac(keys, 42, leaf.subarray(0, 31))).toThrow(/32 bytes/);
    expect(checkLeafMac(keys, 42, leaf, null)).toBe('missing');
    expect(checkLeafMac(keys, 42, leaf, mac.subarray(0, 35))).toBe('bad');
    expect(
      checkLeafMac(leafMacKeys([parseSkey(skeyFor('other.example/log', randomBytes(32)))]), 42, leaf, mac),
    ).toBe('unknown-key');
  });

  it('gives the same MAC however leaves interleave across keys (no state carried from one tag to the next)', () => {
    const other = leafMacKeys([parseSkey(skeyFor('example.com/log', randomBytes(32)))]);
    const leaves = Array.from({ length: 20 }, () => randomBytes(32));
    const alone = leaves.map((l, i) => leafMac(keys, i, l).toString('hex'));
    const interleaved = leaves.map((l, i) => {
      leafMac(other, i + 7, randomBytes(32));
      checkLeafMac(other, i, l, leafMac(other, i, l));
      return leafMac(keys, i, l).toString('hex');
    });
    expect(interleaved).toEqual(alone);
  });
});
