import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyInclusion as serverVerify } from '../../src/audit/log/proof-verification.js';
import { generateNoteKey, parseSkey, signNote } from '../../src/audit/log/signed-note.js';
import { parseCheckpoint, parseVkey, signedBy } from '../../web/src/audit/checkpoint.js';
import { fromBase64, leafHash, verifyInclusion } from '../../web/src/audit/rfc9162.js';
import { INCLUSION_PROOFS, LEAF_INPUTS, NODE_HASHES, ROOT_HASHES } from '../audit/rfc6962-vectors.js';
import { createHarness, type Harness } from '../support/harness.js';

const hex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));

/**
 * The portal's proof checks (web/src/audit), run here as the browser runs them (Web Crypto, no Node crypto):
 * against RFC 6962's published vectors, and against the proofs and checkpoints a real server hands out.
 */
describe("the portal's RFC 9162 inclusion check", () => {
  it('hashes the RFC 6962 leaves and accepts every published inclusion proof', async () => {
    for (const [i, input] of LEAF_INPUTS.entries()) {
      expect(Buffer.from(await leafHash(hex(input))).toString('hex')).toBe(NODE_HASHES[0]?.[i]);
    }
    for (const { index, size, proof } of INCLUSION_PROOFS) {
      const leaf = hex(NODE_HASHES[0]?.[index] as string);
      const root = hex(ROOT_HASHES[size] as string);
      expect(await verifyInclusion(leaf, index, size, proof.map(hex), root)).toBe(true);
    }
  });

  it('agrees with the server’s verifier on every proof one index, size or step away, and refuses bent hashes', async () => {
    let refused = 0;
    for (const { index, size, proof } of INCLUSION_PROOFS) {
      const leaf = hex(NODE_HASHES[0]?.[index] as string);
      const root = hex(ROOT_HASHES[size] as string);
      const path = proof.map(hex);
      const variants: [number, number, Uint8Array[]][] = [
        [index, size + 1, path],
        [index + 1, size, path],
        [size, size, path],
        [index, size, [...path, leaf]],
        [index, size, path.slice(1)],
        [index, Math.max(1, size - 1), path],
      ];
      for (const [i, n, p] of variants) {
        const browser = await verifyInclusion(leaf, i, n, p, root);
        expect(browser, `index ${i} size ${n} path ${p.length}`).toBe(serverVerify(leaf, i, n, p, root));
        if (!browser) refused++;
      }
      for (let p = 0; p < path.length; p++) {
        const bent = path.map((h) => h.slice());
        const h = bent[p] as Uint8Array;
        h[0] = (h[0] as number) ^ 1;
        expect(await verifyInclusion(leaf, index, size, bent, root)).toBe(false);
      }
      expect(await verifyInclusion(leaf, index, size, path, root.slice(0, 31))).toBe(false);
    }
    // Most are refused; the few accepted are RFC 9162's own (a root for n also closes some paths for n + 1).
    expect(refused).toBeGreaterThan(20);
  });
});

describe("the portal's checkpoint and signature check", () => {
  it('accepts a checkpoint signed by the vkey and refuses other keys, other text and bad key IDs', async () => {
    for (let n = 0; n < 20; n++) {
      const { skey, vkey } = generateNoteKey(`log-${n}.example/audit`);
      const other = generateNoteKey(`log-${n}.example/audit`);
      const text = `log-${n}.example/audit\n${n}\n${Buffer.alloc(32, n).toString('base64')}\n`;
      const note = signNote(text, [parseSkey(skey)]);
      const cp = parseCheckpoint(note);
      if (typeof cp === 'string') throw new Error(cp);
      expect(cp.size).toBe(n);
      const key = await parseVkey(vkey);
      if (typeof key === 'string') throw new Error(key);
      expect(await signedBy(cp, key)).toBe(true);
      const stranger = await parseVkey(other.vkey);
      if (typeof stranger === 'string') throw new Error(stranger);
      expect(await signedBy(cp, stranger)).toBe(false);
      const forged = parseCheckpoint(note.replace(`\n${n}\n`, `\n${n + 1}\n`));
      if (typeof forged === 'string') throw new Error(forged);
      expect(await signedBy(forged, key)).toBe(false);
      expect(typeof (await parseVkey(vkey.replace(/\+[0-9a-f]{8}\+/, '+00000000+')))).toBe('string');
    }
  });
});

describe("the portal's checks against a real server's proofs", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('sqlite');
    for (let i = 0; i < 6; i++) {
      await h
        .as('alice')
        .postSettled('/v1/requests', { resource: 'staging-db', role: 'read', reason: `r${i}` });
    }
    await h.stint.audit.log.build({ checkpoint: true });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('proves every event of the trail from what /v1/audit/proof/inclusion and /v1/audit/key answer', async () => {
    const key = (await h.as('erin').get('/v1/audit/key')).body as {
      origin: string;
      keys: { vkey: string }[];
    };
    const vkey = await parseVkey(key.keys[0]?.vkey as string);
    if (typeof vkey === 'string') throw new Error(vkey);
    const { events } = (await h.as('erin').get('/v1/audit/events?limit=1000')).body as {
      events: { seq: number }[];
    };
    expect(events.length).toBeGreaterThan(10);
    for (const { seq } of events) {
      const res = await h.as('erin').get(`/v1/audit/proof/inclusion?seq=${seq}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const p = res.body as {
        seq: number;
        size: number;
        leafHash: string;
        body: string;
        proof: string[];
        checkpoint: string;
      };
      const cp = parseCheckpoint(p.checkpoint);
      if (typeof cp === 'string') throw new Error(cp);
      const leaf = await leafHash(new TextEncoder().encode(p.body));
      expect(Buffer.from(leaf).toString('base64')).toBe(p.leafHash);
      const path = p.proof.map((b) => fromBase64(b) as Uint8Array);
      expect(await verifyInclusion(leaf, p.seq, cp.size, path, cp.root)).toBe(true);
      expect(cp.origin).toBe(key.origin);
      expect(await signedBy(cp, vkey), p.checkpoint).toBe(true);
    }
  });
});
