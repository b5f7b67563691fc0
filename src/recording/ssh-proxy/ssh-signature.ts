import { createPublicKey, constants as cryptoConstants, type KeyObject, verify } from 'node:crypto';
import { WireReader } from '../../providers/ssh/wire.js';

/**
 * Checks an SSH signature blob (`string algorithm, string signature`, RFC 4253 §6.6) made by the key whose wire
 * blob is given: what a certificate's CA signs and what a user signs at login. Ed25519, ECDSA on the NIST curves
 * and RSA with SHA-2; RSA with SHA-1 (`ssh-rsa` signatures) is refused, as OpenSSH refuses it by default.
 * Answers false for anything that does not verify, malformed input included: nothing here throws on bad bytes.
 */
export function verifySshSignature(keyBlob: Buffer, data: Buffer, signatureBlob: Buffer): boolean {
  try {
    const key = new WireReader(keyBlob);
    const keyType = key.text();
    const sig = new WireReader(signatureBlob);
    const algorithm = sig.text();
    const raw = sig.bytes();
    if (sig.remaining !== 0) return false;
    if (keyType === 'ssh-ed25519') {
      if (algorithm !== 'ssh-ed25519') return false;
      return verify(null, data, ed25519Key(key.bytes()), raw);
    }
    if (keyType === 'ssh-rsa') {
      const hash = algorithm === 'rsa-sha2-256' ? 'sha256' : algorithm === 'rsa-sha2-512' ? 'sha512' : null;
      if (hash === null) return false;
      const e = key.bytes();
      const n = key.bytes();
      const rsa = createPublicKey({
        key: { kty: 'RSA', n: b64u(unsigned(n)), e: b64u(unsigned(e)) },
        format: 'jwk',
      });
      return verify(hash, data, { key: rsa, padding: cryptoConstants.RSA_PKCS1_PADDING }, raw);
    }
    const curve = CURVES[keyType];
    if (curve === undefined || algorithm !== keyType) return false;
    if (key.text() !== curve.name) return false;
    const q = key.bytes();
    if (q.length !== 1 + 2 * curve.bytes || q[0] !== 4) return false;
    const ec = createPublicKey({
      key: {
        kty: 'EC',
        crv: curve.jwk,
        x: b64u(q.subarray(1, 1 + curve.bytes)),
        y: b64u(q.subarray(1 + curve.bytes)),
      },
      format: 'jwk',
    });
    // The signature is `mpint r, mpint s`; OpenSSL takes them as fixed-width r ‖ s.
    const rs = new WireReader(raw);
    const r = fixed(unsigned(rs.bytes()), curve.bytes);
    const s = fixed(unsigned(rs.bytes()), curve.bytes);
    if (r === null || s === null || rs.remaining !== 0) return false;
    return verify(curve.hash, data, { key: ec, dsaEncoding: 'ieee-p1363' }, Buffer.concat([r, s]));
  } catch {
    return false;
  }
}

const CURVES: Record<string, { name: string; jwk: string; bytes: number; hash: string }> = {
  'ecdsa-sha2-nistp256': { name: 'nistp256', jwk: 'P-256', bytes: 32, hash: 'sha256' },
  'ecdsa-sha2-nistp384': { name: 'nistp384', jwk: 'P-384', bytes: 48, hash: 'sha384' },
  'ecdsa-sha2-nistp521': { name: 'nistp521', jwk: 'P-521', bytes: 66, hash: 'sha512' },
};

const b64u = (b: Buffer) => b.toString('base64url');

function ed25519Key(pk: Buffer): KeyObject {
  if (pk.length !== 32) throw new Error('an Ed25519 key is 32 bytes');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(pk) }, format: 'jwk' });
}

/** An mpint without its sign byte and leading zeros. */
function unsigned(mpint: Buffer): Buffer {
  let i = 0;
  while (i < mpint.length - 1 && mpint[i] === 0) i++;
  return mpint.subarray(i);
}

function fixed(n: Buffer, width: number): Buffer | null {
  if (n.length > width) return null;
  return Buffer.concat([Buffer.alloc(width - n.length), n]);
}
