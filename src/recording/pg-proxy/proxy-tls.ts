import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { chmod, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ProxyTls {
  context: SecureContext;
  /** `tls-server-end-point` channel binding data: SHA-256 of the certificate (its signature hash is SHA-256). */
  binding: Buffer;
  /** SHA-256 fingerprint, what users pin (`sslrootcert` is the certificate file itself). */
  fingerprint: string;
  certFile: string;
}

/**
 * The proxy's TLS certificate and key: read from their files, or made there on first start (ECDSA P-256,
 * self-signed, 10 years, key 0600) with the system's `openssl`, as the SSH proxy makes its host key. Users verify it
 * by pinning (`sslmode=verify-ca sslrootcert=<the certificate>`) or an operator puts a CA-issued pair there.
 */
export async function loadProxyTls(certFile: string, keyFile: string, names: string[]): Promise<ProxyTls> {
  let cert: string;
  let key: string;
  try {
    [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    await makeSelfSigned(certFile, keyFile, names);
    [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  }
  const x509 = new X509Certificate(cert);
  return {
    context: createSecureContext({ cert, key, minVersion: 'TLSv1.2' }),
    binding: createHash('sha256').update(x509.raw).digest(),
    fingerprint: x509.fingerprint256,
    certFile,
  };
}

async function makeSelfSigned(certFile: string, keyFile: string, names: string[]): Promise<void> {
  // Made beside the targets and renamed in: a crash half-way leaves no half pair that the next start would read.
  const dir = await mkdtemp(join(dirname(keyFile), '.pg-proxy-tls-'));
  try {
    const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-sha256',
      '-nodes',
      '-days',
      '3650',
      '-subj',
      '/CN=stint-pg-proxy',
      '-addext',
      `subjectAltName=${san}`,
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]).catch((e: unknown) => {
      throw new Error(
        `making the PostgreSQL proxy's TLS certificate failed (openssl): ${(e as Error).message}`,
      );
    });
    await chmod(join(dir, 'key.pem'), 0o600);
    await rename(join(dir, 'key.pem'), keyFile);
    await rename(join(dir, 'cert.pem'), certFile);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
