import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import ssh2 from 'ssh2';
import type { ProviderSet } from '../../providers/provider-set.js';
import { string } from '../../providers/ssh/wire.js';
import { certificateAuthHandler, installCertificateLogin } from './cert-auth.js';
import { readCertificateBlob } from './certificate-blob.js';
import { PROXY_CIPHERS } from './ciphers.js';
import { certifiedHostKeys } from './host-keys.js';
import type { SessionGrant } from './login-check.js';

/** The proxy's connection to the host for one session. */
export interface HostLeg {
  client: ssh2.Client;
  /** The serial of the certificate the proxy logged in with: in the ledger, so the KRL lists it at revoke. */
  serial: string;
  keyId: string;
  close(): void;
}

const CONNECT_TIMEOUT_MS = 10_000;

/** A key pair that lives in this process's memory for one session and is never written anywhere. */
function sessionKey(comment: string): { privateKey: KeyObject; publicLine: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const x = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  const blob = Buffer.concat([string('ssh-ed25519'), string(x)]);
  return { privateKey, publicLine: `ssh-ed25519 ${blob.toString('base64')} ${comment}` };
}

/**
 * Logs in to the host for one session with a credential only that session can use: a key made for it in memory,
 * certified through the ssh kind's own signer (the provider's `completeCredential`, as a user's take is) for what
 * is left of the grant, with the role's principals and options. The host accepts it only inside the grant's window
 * (its `valid before`) and refuses it once revoked (its serial joins the KRL with the grant's). The host is checked
 * by its certificate from the resource's host CA, never trusted on first use.
 */
export async function openHostLeg(
  grant: SessionGrant,
  sessionId: string,
  providers: Pick<ProviderSet, 'get'>,
  signal: AbortSignal,
  now: Date,
): Promise<HostLeg> {
  const { resource, request } = grant;
  const provider = providers.get(resource);
  if (!provider.completeCredential) throw new Error(`resource ${resource.id} signs no certificates`);
  const key = sessionKey(`stint-proxy:${sessionId}`);
  const done = await provider.completeCredential(
    {
      requestId: request.id,
      requester: request.requester,
      role: request.role,
      grants: grant.role.grants,
      principal: grant.principal,
      expiresAt: grant.expiresAt,
      input: { publicKey: key.publicLine },
    },
    signal,
  );
  const line = done.secret.certificate ?? '';
  const [certType = '', b64 = ''] = line.split(' ');
  const certBlob = Buffer.from(b64, 'base64');
  const cert = readCertificateBlob(certBlob);
  const { host, port, hostCaPublicKey } = resource.options;
  const hostKeys = await certifiedHostKeys(host, port, hostCaPublicKey, now);

  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      client.end();
      reject(new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    client.once('ready', () => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
    client.once('error', (e) => {
      signal.removeEventListener('abort', onAbort);
      reject(e);
    });
    client.connect({
      host,
      port,
      username: grant.account,
      readyTimeout: CONNECT_TIMEOUT_MS,
      keepaliveInterval: 15_000,
      algorithms: {
        serverHostKey: hostKeys.algorithms as ssh2.ServerHostKeyAlgorithm[],
        cipher: PROXY_CIPHERS,
      },
      hostVerifier: (offered: Buffer) => hostKeys.keys.some((k) => k.equals(offered)),
      authHandler: certificateAuthHandler(grant.account) as unknown as ssh2.ConnectConfig['authHandler'],
    });
    installCertificateLogin(client, {
      username: grant.account,
      certType,
      certBlob,
      privateKey: key.privateKey,
    });
  });
  // After the handshake an error is the session's end, which the proxy handles through 'close'.
  client.on('error', () => {});
  return {
    client,
    serial: cert.serial.toString(),
    keyId: cert.keyId,
    close: () => client.end(),
  };
}
