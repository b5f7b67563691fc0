import { randomBytes } from 'node:crypto';
import type { CaKey } from './ca-key.js';
import { signCertificate } from './certificate.js';
import { parsePublicKeyLine } from './public-key.js';

export interface HostCertificateRequest {
  /** The host's public key line (`/etc/ssh/ssh_host_ed25519_key.pub`). */
  hostPublicKey: string;
  /** The names users reach the host by: the host certificate is valid for these and no other. */
  hostnames: readonly string[];
  /** Host keys rotate rarely: a long validity, renewed by re-running the procedure (docs/ssh-target.md). */
  validFor: number;
  /** Names the host in the certificate; by default its first host name. */
  keyId?: string;
  now?: Date;
}

/**
 * Signs a host key with the host CA, so users trust the host through one `@cert-authority` line instead of on
 * first use. The admin path: `stint ssh-host-cert` runs it on the operator's machine, where the host CA key is;
 * the server never needs that key.
 */
export function signHostCertificate(hostCa: CaKey, request: HostCertificateRequest): string {
  const key = parsePublicKeyLine(request.hostPublicKey);
  if (request.hostnames.length === 0) throw new RangeError('a host certificate needs at least one host name');
  const now = request.now ?? new Date();
  return signCertificate(hostCa, {
    keyBlob: key.blob,
    type: 'host',
    serial: randomBytes(8).readBigUInt64BE(0) & 0x7fff_ffff_ffff_ffffn,
    keyId: request.keyId ?? `stint-host:${request.hostnames[0]}`,
    principals: request.hostnames,
    validAfter: new Date(now.getTime() - 5 * 60_000),
    validBefore: new Date(now.getTime() + request.validFor),
  });
}
