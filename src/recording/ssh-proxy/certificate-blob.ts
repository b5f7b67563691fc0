import { fingerprintOf } from '../../providers/ssh/public-key.js';
import { string, WireReader } from '../../providers/ssh/wire.js';
import { verifySshSignature } from './ssh-signature.js';

/**
 * An OpenSSH certificate read whole (PROTOCOL.certkeys), signature and options included: what the proxy needs to
 * decide a login the way sshd would. The ssh kind's own reader (providers/ssh/certificate.ts) skips the options
 * and the signature, being for the CLI's "when does my certificate run out"; this one is for trust.
 */
export interface CertificateBlob {
  /** `ssh-ed25519-cert-v01@openssh.com` … */
  certType: string;
  /** `ssh-ed25519` … : the algorithm of the certified key. */
  keyType: string;
  /** The certified key as a plain public key blob. */
  keyBlob: Buffer;
  keyFingerprint: string;
  serial: bigint;
  type: 'user' | 'host';
  keyId: string;
  principals: string[];
  validAfter: Date;
  validBefore: Date;
  criticalOptions: Map<string, string>;
  extensions: Set<string>;
  /** The CA's public key blob. */
  signatureKey: Buffer;
  caFingerprint: string;
  /** Everything the CA signed: the blob up to and including the signature key. */
  signed: Buffer;
  signature: Buffer;
}

/** Key fields after the nonce, by certified key type (mpints are strings on the wire). */
const KEY_FIELDS: Record<string, number> = {
  'ssh-ed25519': 1,
  'ssh-rsa': 2,
  'ecdsa-sha2-nistp256': 2,
  'ecdsa-sha2-nistp384': 2,
  'ecdsa-sha2-nistp521': 2,
};

export class CertificateFormatError extends Error {
  override readonly name = 'CertificateFormatError';
}

/** Reads a certificate blob; throws CertificateFormatError (a fixed message, never a byte of it) when it is none. */
export function readCertificateBlob(blob: Buffer): CertificateBlob {
  try {
    const r = new WireReader(blob);
    const certType = r.text();
    const keyType = certType.replace(/-cert-v01@openssh\.com$/, '');
    const count = KEY_FIELDS[keyType];
    if (count === undefined || keyType === certType) throw new CertificateFormatError('not a certificate');
    r.bytes(); // nonce
    const fields: Buffer[] = [];
    for (let i = 0; i < count; i++) fields.push(string(r.bytes()));
    const keyBlob = Buffer.concat([string(keyType), ...fields]);
    const serial = r.u64();
    const typeCode = r.u32();
    if (typeCode !== 1 && typeCode !== 2) throw new CertificateFormatError('unknown certificate type');
    const keyId = r.text();
    const principals = texts(r.bytes());
    const validAfter = new Date(Number(r.u64()) * 1000);
    const validBefore = new Date(Number(r.u64()) * 1000);
    const criticalOptions = options(r.bytes());
    const extensions = new Set(options(r.bytes()).keys());
    r.bytes(); // reserved
    const signatureKey = r.bytes();
    const signedLength = blob.length - r.remaining;
    const signature = r.bytes();
    if (r.remaining !== 0) throw new CertificateFormatError('trailing bytes');
    return {
      certType,
      keyType,
      keyBlob,
      keyFingerprint: fingerprintOf(keyBlob),
      serial,
      type: typeCode === 2 ? 'host' : 'user',
      keyId,
      principals,
      validAfter,
      validBefore,
      criticalOptions,
      extensions,
      signatureKey,
      caFingerprint: fingerprintOf(signatureKey),
      signed: blob.subarray(0, signedLength),
      signature,
    };
  } catch (e) {
    if (e instanceof CertificateFormatError) throw e;
    throw new CertificateFormatError('malformed certificate');
  }
}

/** Whether the CA the certificate names signed it (and nothing else: the caller decides whether to trust that CA). */
export function signedByItsCa(cert: CertificateBlob): boolean {
  return verifySshSignature(cert.signatureKey, cert.signed, cert.signature);
}

function texts(packed: Buffer): string[] {
  const r = new WireReader(packed);
  const out: string[] = [];
  while (r.remaining > 0) out.push(r.text());
  return out;
}

/** `string name, string data` pairs; a value is itself a string inside the data, a flag's data is empty. */
function options(packed: Buffer): Map<string, string> {
  const r = new WireReader(packed);
  const out = new Map<string, string>();
  while (r.remaining > 0) {
    const name = r.text();
    const data = r.bytes();
    out.set(name, data.length === 0 ? '' : new WireReader(data).text());
  }
  return out;
}
