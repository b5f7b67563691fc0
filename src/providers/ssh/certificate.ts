import { randomBytes } from 'node:crypto';
import type { CaKey } from './ca-key.js';
import { fingerprintOf } from './public-key.js';
import { optionList, string, stringList, u32, u64, WireReader } from './wire.js';

/** PROTOCOL.certkeys: SSH_CERT_TYPE_USER, SSH_CERT_TYPE_HOST. */
const CERT_TYPE = { user: 1, host: 2 } as const;
export type CertificateType = keyof typeof CERT_TYPE;

export interface CertificateFields {
  /** The subject key's wire blob (`string type, key fields…`), as the user's public key line holds it. */
  keyBlob: Buffer;
  type: CertificateType;
  serial: bigint;
  /** Free text the CA picks; sshd logs it at every login and a KRL can revoke by it. */
  keyId: string;
  /** User names (user certificates) or host names (host certificates) the certificate is valid for. */
  principals: readonly string[];
  validAfter: Date;
  validBefore: Date;
  /** `force-command`, `source-address`: restrictions a host must understand or refuse the certificate. */
  criticalOptions?: ReadonlyMap<string, string | null>;
  /** `permit-pty`, `permit-port-forwarding`…: what the certificate allows beyond a plain command. */
  extensions?: ReadonlyMap<string, string | null>;
}

const NONCE_BYTES = 32;
const seconds = (d: Date) => BigInt(Math.floor(d.getTime() / 1000));

/**
 * Signs a certificate as `ssh-keygen -s` would (PROTOCOL.certkeys): the subject key's fields follow the nonce
 * unchanged, so one encoder serves Ed25519, ECDSA and RSA subjects. Answers the line `ssh` reads from a
 * `-cert.pub` file.
 */
export function signCertificate(ca: CaKey, fields: CertificateFields, comment = fields.keyId): string {
  const key = new WireReader(fields.keyBlob);
  const keyType = key.text();
  const certType = `${keyType}-cert-v01@openssh.com`;
  if (fields.validBefore.getTime() <= fields.validAfter.getTime()) {
    throw new RangeError('certificate would be valid for no time at all');
  }
  const body = Buffer.concat([
    string(certType),
    string(randomBytes(NONCE_BYTES)),
    key.rest(),
    u64(fields.serial),
    u32(CERT_TYPE[fields.type]),
    string(fields.keyId),
    stringList(fields.principals),
    u64(seconds(fields.validAfter)),
    u64(seconds(fields.validBefore)),
    optionList(fields.criticalOptions ?? new Map()),
    optionList(fields.extensions ?? new Map()),
    string(''),
    string(ca.publicBlob),
  ]);
  const blob = Buffer.concat([body, string(ca.sign(body))]);
  return `${certType} ${blob.toString('base64')} ${comment.replace(/[^\x21-\x7e]/g, '_')}`;
}

export interface ParsedCertificate {
  certType: string;
  /** The subject key, as a plain public key blob. */
  keyBlob: Buffer;
  keyFingerprint: string;
  serial: bigint;
  type: CertificateType;
  keyId: string;
  principals: string[];
  validAfter: Date;
  validBefore: Date;
  caFingerprint: string;
}

/** Key fields after the nonce, by subject type: how many strings (mpints are strings on the wire) each has. */
const KEY_FIELDS: Record<string, number> = {
  'ssh-ed25519': 1,
  'ssh-rsa': 2,
  'ecdsa-sha2-nistp256': 2,
  'ecdsa-sha2-nistp384': 2,
  'ecdsa-sha2-nistp521': 2,
};

/**
 * Reads a certificate line back, without checking its signature: for the CLI to know when a certificate it
 * kept runs out, and for tests to find the key it certifies. Trust is sshd's business.
 */
export function parseCertificate(line: string): ParsedCertificate {
  const [certType = '', b64 = ''] = line.trim().split(/\s+/);
  const keyType = certType.replace(/-cert-v01@openssh\.com$/, '');
  const count = KEY_FIELDS[keyType];
  if (count === undefined || keyType === certType) throw new Error('not an OpenSSH certificate');
  const r = new WireReader(Buffer.from(b64, 'base64'));
  if (r.text() !== certType) throw new Error('certificate type mismatch');
  r.bytes();
  const keyFields: Buffer[] = [];
  for (let i = 0; i < count; i++) keyFields.push(string(r.bytes()));
  const keyBlob = Buffer.concat([string(keyType), ...keyFields]);
  const serial = r.u64();
  const type = r.u32() === CERT_TYPE.host ? 'host' : 'user';
  const keyId = r.text();
  const names = new WireReader(r.bytes());
  const principals: string[] = [];
  while (names.remaining > 0) principals.push(names.text());
  const validAfter = new Date(Number(r.u64()) * 1000);
  const validBefore = new Date(Number(r.u64()) * 1000);
  r.bytes();
  r.bytes();
  r.bytes();
  const caBlob = r.bytes();
  return {
    certType,
    keyBlob,
    keyFingerprint: fingerprintOf(keyBlob),
    serial,
    type,
    keyId,
    principals,
    validAfter,
    validBefore,
    caFingerprint: fingerprintOf(caBlob),
  };
}
