import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestTls {
  /** PEM of the CA clients trust. */
  ca: string;
  /** The server's certificate (for 127.0.0.1 and localhost) and key, signed by that CA. */
  cert: string;
  key: string;
}

/**
 * A throwaway CA and a server certificate for 127.0.0.1, made with openssl in a temp dir that is removed at once:
 * the Kubernetes double serves HTTPS as an API server does, and the kubeconfigs carry this CA.
 */
export function makeTestTls(): TestTls {
  const dir = mkdtempSync(join(tmpdir(), 'stint-test-tls-'));
  const at = (f: string) => join(dir, f);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    ssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      at('ca.key'),
      '-out',
      at('ca.crt'),
      '-days',
      '2',
      '-subj',
      '/CN=stint-test-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
    ssl('req', ...ec, '-keyout', at('srv.key'), '-out', at('srv.csr'), '-subj', '/CN=kube-apiserver-double');
    writeFileSync(
      at('ext.cnf'),
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n',
    );
    ssl(
      'x509',
      '-req',
      '-in',
      at('srv.csr'),
      '-CA',
      at('ca.crt'),
      '-CAkey',
      at('ca.key'),
      '-CAcreateserial',
      '-out',
      at('srv.crt'),
      '-days',
      '2',
      '-extfile',
      at('ext.cnf'),
    );
    return {
      ca: readFileSync(at('ca.crt'), 'utf8'),
      cert: readFileSync(at('srv.crt'), 'utf8'),
      key: readFileSync(at('srv.key'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
