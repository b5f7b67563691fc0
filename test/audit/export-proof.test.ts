import { describe, expect, it } from 'vitest';
import {
  checkProofBundle,
  consistencyBundle,
  inclusionBundle,
  PROOF_FORMAT,
} from '../../src/audit/export/proof-bundle.js';
import { encodeBase64 } from '../../src/audit/log/base64.js';
import { logKey, makeLog, ORIGIN, otherKey } from './export-fixtures.js';

const log = makeLog(50, { purgedBelow: 5 });
const keys = [logKey.verifier];

const inclusion = (seq: number, size: number) =>
  inclusionBundle({
    seq,
    size,
    leafHash: encodeBase64(log.leafHashes[seq] as Uint8Array),
    body: log.bodies[seq] ?? null,
    proof: log.inclusion(seq, size),
    checkpoint: log.checkpoint(size),
  });

const consistency = (oldSize: number, newSize: number) =>
  consistencyBundle({
    old: oldSize,
    new: newSize,
    proof: log.consistency(oldSize, newSize),
    oldCheckpoint: log.checkpoint(oldSize),
    newCheckpoint: log.checkpoint(newSize),
  });

/** What `stint audit prove` prints and `check-proof` reads back: the bundle goes through JSON. */
const viaJson = <T>(v: T): T => JSON.parse(JSON.stringify(v));

describe('inclusion proof bundles', () => {
  it('carry the event as an object and check offline with the key', () => {
    const bundle = viaJson(inclusion(17, 40));
    expect(bundle).toMatchObject({
      format: PROOF_FORMAT,
      kind: 'inclusion',
      origin: ORIGIN,
      seq: 17,
      size: 40,
    });
    expect(bundle.event).toMatchObject({ seq: 17, action: expect.any(String) });
    expect(checkProofBundle(bundle, keys)).toMatchObject({
      ok: true,
      kind: 'inclusion',
      seq: 17,
      eventId: bundle.event?.id,
      checkpoint: { size: 40, signedBy: [expect.stringMatching(/^stint\.test\/audit\+[0-9a-f]{8}$/)] },
    });
  });

  it('hold for every leaf against every later checkpoint', () => {
    for (const size of [1, 6, 32, 33, 50]) {
      for (let seq = 0; seq < size; seq++) {
        expect(checkProofBundle(viaJson(inclusion(seq, size)), keys).ok, `${seq} in ${size}`).toBe(true);
      }
    }
  });

  it('prove a purged event by its leaf hash alone', () => {
    const bundle = viaJson(inclusion(2, 30));
    expect(bundle.event).toBeNull();
    expect(checkProofBundle(bundle, keys)).toMatchObject({ ok: true, eventId: null, seq: 2 });
  });

  it('fail when the event was changed', () => {
    const bundle = viaJson(inclusion(17, 40));
    (bundle.event as Record<string, unknown>).actor = 'mallory';
    expect(checkProofBundle(bundle, keys)).toMatchObject({ ok: false, code: 'CHANGED' });
    // Changed and the leaf hash dropped: the proof no longer leads to the root.
    expect(checkProofBundle({ ...bundle, leafHash: null }, keys)).toMatchObject({
      ok: false,
      code: 'ROOT_MISMATCH',
    });
  });

  it('fail when the proof is for another leaf or damaged', () => {
    const bundle = viaJson(inclusion(17, 40));
    expect(checkProofBundle({ ...bundle, seq: 18 }, keys)).toMatchObject({ ok: false, code: 'CHANGED' });
    const proof = [...bundle.proof];
    proof[1] = proof[0] as string;
    expect(checkProofBundle({ ...bundle, proof }, keys)).toMatchObject({ ok: false, code: 'ROOT_MISMATCH' });
    expect(checkProofBundle({ ...bundle, proof: bundle.proof.slice(1) }, keys)).toMatchObject({ ok: false });
  });

  it('fail with another key, or a checkpoint of another size', () => {
    const bundle = viaJson(inclusion(17, 40));
    expect(checkProofBundle(bundle, [otherKey.verifier])).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    expect(checkProofBundle({ ...bundle, checkpoint: log.checkpoint(41) }, keys)).toMatchObject({
      ok: false,
      code: 'MALFORMED',
    });
  });

  it('refuse a server body that is not canonical JSON', () => {
    expect(() =>
      inclusionBundle({ seq: 1, size: 2, leafHash: 'x', body: '{ "seq": 1 }', proof: [], checkpoint: 'o\n' }),
    ).toThrow(/not canonical/);
  });
});

describe('consistency proof bundles', () => {
  it('check between any two sizes, including from 0 and to the same size', () => {
    for (const [a, b] of [
      [0, 10],
      [1, 50],
      [7, 8],
      [16, 33],
      [20, 20],
      [49, 50],
    ] as const) {
      expect(checkProofBundle(viaJson(consistency(a, b)), keys), `${a} → ${b}`).toMatchObject({
        ok: true,
        kind: 'consistency',
        old: { size: a },
        new: { size: b },
      });
    }
  });

  it('fail for a fork: the newer checkpoint is of another history', () => {
    const forked = makeLog(50, { variantFrom: 12 });
    const bundle = {
      ...viaJson(consistency(20, 50)),
      proof: forked.consistency(20, 50),
      newCheckpoint: forked.checkpoint(50),
    };
    expect(checkProofBundle(bundle, keys)).toMatchObject({ ok: false, code: 'FORK' });
  });

  it('fail with a wrong key, swapped checkpoints or a bundle that is not one', () => {
    const bundle = viaJson(consistency(20, 50));
    expect(checkProofBundle(bundle, [otherKey.verifier])).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    expect(
      checkProofBundle(
        { ...bundle, oldCheckpoint: bundle.newCheckpoint, newCheckpoint: bundle.oldCheckpoint },
        keys,
      ),
    ).toMatchObject({ ok: false, code: 'MALFORMED' });
    expect(checkProofBundle({ kind: 'consistency' }, keys)).toMatchObject({ ok: false, code: 'MALFORMED' });
    expect(checkProofBundle(null, keys)).toMatchObject({ ok: false, code: 'MALFORMED' });
  });
});
