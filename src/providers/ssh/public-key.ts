import { createHash, createPublicKey } from 'node:crypto';
import { WireError, WireReader } from './wire.js';

/** The user key types Stint signs: Ed25519, ECDSA on the NIST curves, RSA of at least 3072 bits. */
export const USER_KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
] as const;
export type UserKeyType = (typeof USER_KEY_TYPES)[number];

/** NIST SP 800-57's floor for keys used past 2030; OpenSSH itself still accepts 1024-bit RSA. */
export const MIN_RSA_BITS = 3072;

const CURVES: Record<string, { name: string; jwk: string; bytes: number }> = {
  'ecdsa-sha2-nistp256': { name: 'nistp256', jwk: 'P-256', bytes: 32 },
  'ecdsa-sha2-nistp384': { name: 'nistp384', jwk: 'P-384', bytes: 48 },
  'ecdsa-sha2-nistp521': { name: 'nistp521', jwk: 'P-521', bytes: 66 },
};

export interface SshPublicKey {
  type: UserKeyType;
  /** The key's wire blob: what a certificate embeds and what the fingerprint hashes. */
  blob: Buffer;
  /** `SHA256:…` as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

/** Why a public key line was refused. Messages are fixed: they never quote the line. */
export class PublicKeyError extends Error {
  override readonly name = 'PublicKeyError';
}

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

const LINE = /^([a-z0-9@.-]+) ([A-Za-z0-9+/]+={0,2})(?: [\x20-\x7e]*)?$/;

/**
 * One OpenSSH public key line, `type base64 [comment]`: no authorized_keys options in front, no second line, no
 * certificate, a blob whose own type name matches and whose key is well formed (an ECDSA point on its curve, an
 * RSA modulus of at least MIN_RSA_BITS).
 */
export function parsePublicKeyLine(text: string): SshPublicKey {
  const line = text.trim();
  if (/[\r\n]/.test(line)) throw new PublicKeyError('must be one line');
  const m = LINE.exec(line);
  if (!m?.[1] || !m[2]) {
    throw new PublicKeyError('must be an OpenSSH public key line: type, base64 key, optional comment');
  }
  const type = m[1];
  if (!(USER_KEY_TYPES as readonly string[]).includes(type)) {
    throw new PublicKeyError(`key type must be one of ${USER_KEY_TYPES.join(', ')}`);
  }
  const blob = Buffer.from(m[2], 'base64');
  try {
    checkBlob(type as UserKeyType, blob);
  } catch (e) {
    if (e instanceof PublicKeyError) throw e;
    throw new PublicKeyError('the key data is malformed');
  }
  return { type: type as UserKeyType, blob, fingerprint: fingerprintOf(blob) };
}

const b64url = (b: Buffer) => b.toString('base64url');

/** Strips an mpint's sign byte: what is left is the unsigned big-endian value. */
function unsigned(mpint: Buffer): Buffer {
  if (mpint.length === 0 || (mpint[0] as number) & 0x80)
    throw new PublicKeyError('the key data is malformed');
  let i = 0;
  while (i < mpint.length - 1 && mpint[i] === 0) i++;
  return mpint.subarray(i);
}

function bitLength(n: Buffer): number {
  const top = n[0] ?? 0;
  return top === 0 ? 0 : (n.length - 1) * 8 + (32 - Math.clz32(top));
}

function checkBlob(type: UserKeyType, blob: Buffer): void {
  const r = new WireReader(blob);
  if (r.text() !== type) throw new PublicKeyError('the key data names another key type than the line');
  if (type === 'ssh-ed25519') {
    const pk = r.bytes();
    if (pk.length !== 32) throw new PublicKeyError('an Ed25519 key is 32 bytes');
    createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(pk) }, format: 'jwk' });
  } else if (type === 'ssh-rsa') {
    const e = unsigned(r.bytes());
    const n = unsigned(r.bytes());
    if (bitLength(n) < MIN_RSA_BITS)
      throw new PublicKeyError(`an RSA key must have at least ${MIN_RSA_BITS} bits`);
    createPublicKey({ key: { kty: 'RSA', n: b64url(n), e: b64url(e) }, format: 'jwk' });
  } else {
    const curve = CURVES[type] as { name: string; jwk: string; bytes: number };
    if (r.text() !== curve.name) throw new PublicKeyError('the key data names another curve than its type');
    const q = r.bytes();
    if (q.length !== 1 + 2 * curve.bytes || q[0] !== 4) throw new PublicKeyError('the key data is malformed');
    // Importing checks the point is on the curve: OpenSSL refuses one that is not.
    createPublicKey({
      key: {
        kty: 'EC',
        crv: curve.jwk,
        x: b64url(q.subarray(1, 1 + curve.bytes)),
        y: b64url(q.subarray(1 + curve.bytes)),
      },
      format: 'jwk',
    });
  }
  if (r.remaining !== 0) throw new PublicKeyError('the key data has trailing bytes');
}

/** Whether a text is an acceptable user public key line; for schemas that only need yes or no. */
export function isUserPublicKey(text: string): boolean {
  try {
    parsePublicKeyLine(text);
    return true;
  } catch (e) {
    if (e instanceof PublicKeyError || e instanceof WireError) return false;
    throw e;
  }
}
