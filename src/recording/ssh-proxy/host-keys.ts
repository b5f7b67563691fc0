import { execFile } from 'node:child_process';
import { parsePublicKeyLine } from '../../providers/ssh/public-key.js';
import { type CertificateBlob, readCertificateBlob, signedByItsCa } from './certificate-blob.js';

/**
 * Which host keys the proxy accepts for a host: those its host certificates certify, under the host CA the
 * resource names, for the host name the resource names, valid now. ssh2 cannot negotiate a certificate host key,
 * so the proxy reads the host's certificates with `ssh-keyscan -c` (public data, fetched over the same network the
 * session will use) and checks them itself; ssh2 then verifies that the host signs the key exchange with one of
 * the certified keys. A man in the middle could answer the scan with the real certificates but cannot sign with
 * their keys: the session itself is what proves the host.
 */
export interface CertifiedHostKeys {
  /** Plain host key blobs the host CA certified. */
  keys: Buffer[];
  /** Their algorithms, as ssh2 negotiates them (RSA as SHA-2 signatures). */
  algorithms: string[];
}

export class HostKeyError extends Error {
  override readonly name = 'HostKeyError';
}

const SCAN_TIMEOUT_S = 5;

function scan(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'ssh-keyscan',
      ['-c', '-T', String(SCAN_TIMEOUT_S), '-p', String(port), host],
      { timeout: (SCAN_TIMEOUT_S + 2) * 1000 },
      (err, stdout) => {
        // ssh-keyscan exits 0 or 1 whatever it found; what it printed is the answer.
        if (err && typeof err.code !== 'number')
          reject(new HostKeyError(`ssh-keyscan failed: ${err.message}`));
        else resolve(String(stdout));
      },
    );
  });
}

export function acceptedHostCertificate(
  cert: CertificateBlob,
  hostCa: Buffer,
  hostname: string,
  now: Date,
): boolean {
  return (
    cert.type === 'host' &&
    cert.signatureKey.equals(hostCa) &&
    cert.principals.includes(hostname) &&
    cert.validAfter.getTime() <= now.getTime() &&
    now.getTime() < cert.validBefore.getTime() &&
    signedByItsCa(cert)
  );
}

/** Reads and checks the host's certificates; refuses a host with none the host CA vouches for. */
export async function certifiedHostKeys(
  host: string,
  port: number,
  hostCaPublicKey: string,
  now: Date,
): Promise<CertifiedHostKeys> {
  const hostCa = parsePublicKeyLine(hostCaPublicKey).blob;
  const text = await scan(host, port);
  const keys: Buffer[] = [];
  const algorithms = new Set<string>();
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // `[host]:port type base64` or `type base64`, by version.
    const at = fields.findIndex((f) => f.endsWith('-cert-v01@openssh.com'));
    const b64 = at >= 0 ? fields[at + 1] : undefined;
    if (!b64) continue;
    let cert: CertificateBlob;
    try {
      cert = readCertificateBlob(Buffer.from(b64, 'base64'));
    } catch {
      continue;
    }
    if (!acceptedHostCertificate(cert, hostCa, host, now)) continue;
    keys.push(cert.keyBlob);
    if (cert.keyType === 'ssh-rsa') {
      algorithms.add('rsa-sha2-512');
      algorithms.add('rsa-sha2-256');
    } else algorithms.add(cert.keyType);
  }
  if (keys.length === 0) {
    throw new HostKeyError(
      `${host}:${port} shows no host certificate signed by the resource's host CA for ${host} and valid now`,
    );
  }
  return { keys, algorithms: [...algorithms] };
}
