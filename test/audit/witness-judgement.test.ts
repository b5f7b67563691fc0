import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signCheckpoint } from '../../src/audit/log/checkpoint.js';
import { generateNoteKey, parseSkey } from '../../src/audit/log/signed-note.js';
import { parseWitnessVkey } from '../../src/audit/witness/cosignature.js';
import {
  checkWitnesses,
  type WitnessCheckInput,
  type WitnessingState,
  witnessId,
} from '../../src/audit/witness/witness-judgement.js';

const ORIGIN = 'judge.test/audit';
const signer = parseSkey(generateNoteKey(ORIGIN).skey);

/** A C2SP cosignature/v1 witness key that appends its cosignature line to a note. */
function witness(name: string) {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
  const keyId = createHash('sha256')
    .update(name)
    .update(Buffer.from([0x0a, 0x04]))
    .update(raw)
    .digest()
    .subarray(0, 4);
  const verifier = parseWitnessVkey(
    `${name}+${keyId.toString('hex')}+${Buffer.concat([Buffer.from([0x04]), raw]).toString('base64')}`,
  );
  return {
    verifier,
    cosign(note: string): string {
      const text = note.slice(0, note.indexOf('\n\n') + 1);
      const stamp = Buffer.alloc(8);
      stamp.writeBigUInt64BE(1_700_000_000n);
      const sig = sign(null, Buffer.from(`cosignature/v1\ntime 1700000000\n${text}`), privateKey);
      return `${note}\u2014 ${name} ${Buffer.concat([keyId, stamp, sig]).toString('base64')}\n`;
    },
  };
}

const note = (size: number) => signCheckpoint({ origin: ORIGIN, size, rootHash: randomBytes(32) }, [signer]);
const empty = (): WitnessingState => ({ firstSeen: {}, witnesses: {} });
const T0 = new Date('2026-01-01T00:00:00Z');
const later = (ms: number) => new Date(T0.getTime() + ms);

function input(over: Partial<WitnessCheckInput>): WitnessCheckInput {
  return {
    notes: [],
    origin: ORIGIN,
    keys: [signer.verifier],
    refusals: [],
    witnesses: [],
    k: 1,
    verifiedSize: 0,
    state: empty(),
    now: T0,
    graceMs: 60_000,
    ...over,
  };
}

/** The witness check's rules, as pure decisions over notes, refusals, the verifier's state and its clock. */
describe('checkWitnesses', () => {
  const w1 = witness('w1.test/w');
  const w2 = witness('w2.test/w');

  it('a known witness: a pending checkpoint passes within the grace of its first sight, fails after', () => {
    const n4 = w1.cosign(note(4));
    const n6 = note(6);
    const base = { notes: [n4, n6], witnesses: [w1.verifier], verifiedSize: 6 };
    const known: WitnessingState = {
      firstSeen: {},
      witnesses: { [witnessId(w1.verifier)]: { size: 4, since: '' } },
    };
    const first = checkWitnesses(input({ ...base, state: known }));
    expect(first).toMatchObject({ ok: true, witnessed: { size: 4, by: ['w1.test/w'] } });
    expect(Object.values(first.state.firstSeen)).toEqual([T0.toISOString()]);
    // The same checkpoint a minute and more after this verifier first saw it: refused, whatever else says.
    const again = checkWitnesses(input({ ...base, state: first.state, now: later(61_000) }));
    expect(again).toMatchObject({ ok: false, problem: { code: 'UNWITNESSED', checkpointSize: 6 } });
    expect(again.state.firstSeen).toEqual(first.state.firstSeen);
    // Once cosigned, it is no longer pending and its first sight is forgotten.
    const done = checkWitnesses(
      input({ ...base, notes: [n4, w1.cosign(n6)], state: again.state, now: later(62_000) }),
    );
    expect(done).toMatchObject({ ok: true, witnessed: { size: 6 } });
    expect(done.state.firstSeen).toEqual({});
  });

  it('a refusal above the witnessed checkpoint fails at once; one below it does not', () => {
    const known: WitnessingState = {
      firstSeen: {},
      witnesses: { [witnessId(w1.verifier)]: { size: 4, since: '' } },
    };
    const base = {
      notes: [w1.cosign(note(4)), note(6)],
      witnesses: [w1.verifier],
      verifiedSize: 6,
      state: known,
    };
    const refused = checkWitnesses(
      input({
        ...base,
        refusals: [{ size: 6, refusals: [{ witness: 'w1.test/w', status: 409, witnessSize: 8 }] }],
      }),
    );
    expect(refused).toMatchObject({ ok: false, problem: { code: 'UNWITNESSED', checkpointSize: 6 } });
    expect(refused.ok ? '' : refused.problem.message).toBe(
      'witness w1.test/w refused checkpoint 6 (HTTP 409; it has cosigned size 8): the log was rolled back or forked',
    );
    const old = checkWitnesses(
      input({ ...base, refusals: [{ size: 3, refusals: [{ witness: 'w1.test/w', status: 422 }] }] }),
    );
    expect(old.ok).toBe(true);
    // A refusal by a witness the verifier was not given is not its business.
    const other = checkWitnesses(
      input({ ...base, refusals: [{ size: 6, refusals: [{ witness: 'x.test/w', status: 422 }] }] }),
    );
    expect(other.ok).toBe(true);
  });

  it('trust on first use: a quorum needing a witness new to this verifier must cover the current tree', () => {
    const known: WitnessingState = {
      firstSeen: {},
      witnesses: { [witnessId(w1.verifier)]: { size: 4, since: '' } },
    };
    const both = (n: string) => w2.cosign(w1.cosign(n));
    const base = { witnesses: [w1.verifier, w2.verifier], k: 2, verifiedSize: 6, state: known };
    const behind = checkWitnesses(input({ ...base, notes: [both(note(4)), note(6)] }));
    expect(behind).toMatchObject({ ok: false, problem: { code: 'UNWITNESSED', checkpointSize: 6 } });
    expect(behind.ok ? '' : behind.problem.message).toMatch(
      /^trust on first use: witness w2\.test\/w is new/,
    );
    expect(behind.state.witnesses[witnessId(w2.verifier)]).toBeUndefined();
    const covering = checkWitnesses(input({ ...base, notes: [both(note(4)), both(note(6))] }));
    expect(covering).toMatchObject({ ok: true, witnessed: { size: 6 } });
    expect(covering.state.witnesses[witnessId(w2.verifier)]).toEqual({ size: 6, since: T0.toISOString() });
    // One of two known is enough for k = 1: the new one does not take the grace away.
    const oneOfTwo = checkWitnesses(input({ ...base, k: 1, notes: [w1.cosign(note(4)), note(6)] }));
    expect(oneOfTwo.ok).toBe(true);
  });
});
