import { api, ok } from '../api/client';
import { type Checkpoint, parseCheckpoint, parseVkey, signedBy } from './checkpoint';
import { bytesEqual, fromBase64, leafHash, toHex, verifyInclusion } from './rfc9162';

export interface Check {
  what: string;
  passed: boolean;
  detail: string;
}

export interface Verdict {
  seq: number;
  passed: boolean;
  checks: Check[];
}

/**
 * Proves one event is in the signed log, in this browser: the server sends the event, an inclusion proof and the
 * checkpoint it leads to; every hash and the signature are recomputed here, so the server is not trusted for the
 * answer. The log key also comes from the server: compare its key ID with the one your organisation published
 * (`stint audit key`) to trust it.
 */
export async function verifyEvent(seq: number): Promise<Verdict> {
  const [proof, key] = await Promise.all([
    ok(api.GET('/v1/audit/proof/inclusion', { params: { query: { seq } } })),
    ok(api.GET('/v1/audit/key')),
  ]);
  const checks: Check[] = [];
  const note = proof.checkpoint;
  const cp: Checkpoint | string =
    note === null ? 'no signed checkpoint covers this event yet' : parseCheckpoint(note);
  if (typeof cp === 'string')
    return { seq, passed: false, checks: [{ what: 'Checkpoint', passed: false, detail: cp }] };

  const given = fromBase64(proof.leafHash);
  let leaf = given;
  if (proof.body !== null) {
    const computed = await leafHash(new TextEncoder().encode(proof.body));
    const same = given !== null && bytesEqual(computed, given);
    checks.push({
      what: 'Leaf hash',
      passed: same,
      detail: same
        ? `SHA-256(0x00 ‖ event) recomputed here: ${toHex(computed).slice(0, 16)}…`
        : 'the event does not hash to the leaf the server names',
    });
    leaf = computed;
  } else {
    checks.push({
      what: 'Leaf hash',
      passed: true,
      detail: 'the event body was purged by retention: its leaf hash stands for it',
    });
  }

  const path = proof.proof.map(fromBase64);
  const included =
    leaf !== null &&
    proof.size === cp.size &&
    path.every((p) => p !== null) &&
    (await verifyInclusion(leaf, proof.seq, cp.size, path as Uint8Array[], cp.root));
  checks.push({
    what: 'Inclusion (RFC 9162 §2.1.3.2)',
    passed: included,
    detail: included
      ? `a path of ${path.length} hashes leads from event ${proof.seq} to the root of the tree of ${cp.size} events`
      : `the proof does not lead to the checkpoint's root (tree of ${cp.size} events)`,
  });

  const sameOrigin = cp.origin === key.origin;
  checks.push({
    what: 'Log origin',
    passed: sameOrigin,
    detail: sameOrigin ? cp.origin : `checkpoint of "${cp.origin}", but the log is "${key.origin}"`,
  });

  let signer: string | null = null;
  for (const { vkey } of key.keys) {
    const k = await parseVkey(vkey);
    if (typeof k !== 'string' && (await signedBy(cp, k))) {
      signer = `${k.name}, key ID ${k.keyId.toString(16).padStart(8, '0')}`;
      break;
    }
  }
  checks.push({
    what: 'Signature (Ed25519)',
    passed: signer !== null,
    detail: signer ?? 'no valid signature by the log key on this checkpoint',
  });
  return { seq, passed: checks.every((c) => c.passed), checks };
}
