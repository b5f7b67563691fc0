import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { Resource } from '../../src/policy/policy-types.js';
import { createProvider } from '../../src/providers/registry.js';
import { parseCertificate } from '../../src/providers/ssh/certificate.js';
import { sshKind } from '../../src/providers/ssh/index.js';
import type { LedgerState } from '../../src/providers/ssh/ledger.js';
import { openSshSession, startSshd } from '../support/sshd.js';
import { providerContract } from './contract.js';

/**
 * The contract suite against a real OpenSSH sshd that trusts this run's user CA and reads the KRL the kind
 * publishes. The kind declares expire-only, not listable, no session ending, no target contact at issue: the
 * suite skips (and names) the removal, listing and target-down tests, and runs the rest, crash recovery
 * included. Logins are real: `ssh` with the user's own key and the certificate the take signed, the host checked
 * by its host certificate alone.
 */
const PRINCIPAL = 'stint-test';
const sshd = await startSshd({ principals: [PRINCIPAL] });
afterAll(() => sshd.stop());

const ENV = 'STINT_CONTRACT_SSH_CA';
const options = {
  host: '127.0.0.1',
  port: sshd.port,
  user: sshd.account,
  principals: [PRINCIPAL],
  hostCaPublicKey: sshd.hostCaPublicKey,
  stateDir: sshd.stateDir,
  krlPath: sshd.krlPath,
};
const resource: Resource = {
  id: 'contract-ssh',
  kind: 'ssh',
  description: 'the contract suite’s sshd',
  sensitivity: 'critical',
  connection: { env: ENV },
  options: sshKind.options.parse(options),
  roles: { read: { name: 'read', description: '', grants: [PRINCIPAL] } },
};

/** The users' keys, made as `stint ssh` makes them, found again by the key their certificate certifies. */
const keyDir = join(sshd.dir, 'users');
mkdirSync(keyDir, { mode: 0o700 });
const privateKeys = new Map<string, string>();
let made = 0;
function newUserKey(): string {
  made += 1;
  const path = join(keyDir, `id_${made}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `contract-${made}`, '-f', path]);
  const publicKey = readFileSync(`${path}.pub`, 'utf8').trim();
  privateKeys.set(publicKey.split(' ')[1] as string, path);
  return publicKey;
}

providerContract('ssh', {
  kind: sshKind,
  // The provider never connects to the hosts: there is no admin endpoint to take down.
  networked: false,
  server: {
    resourceYaml: `  - id: crash-target
    kind: ssh
    sensitivity: routine
    connection: { env: ${ENV} }
    options:
      host: 127.0.0.1
      port: ${sshd.port}
      user: ${sshd.account}
      principals: [${PRINCIPAL}]
      hostCaPublicKey: "${sshd.hostCaPublicKey}"
      stateDir: ${sshd.stateDir}
      krlPath: ${sshd.krlPath}
    roles:
      use: { grants: [${PRINCIPAL}] }`,
    env: { [ENV]: sshd.userCaKey },
  },
  fixture: async () => {
    const env = { [ENV]: sshd.userCaKey };
    return {
      grants: [PRINCIPAL],
      // A principal the hosts do not accept (not in options.principals): refused at issue.
      unknownGrant: 'not-accepted',
      makeProvider: (owner) => createProvider(resource, env, { owner }),
      takeInput: () => ({ publicKey: newUserKey() }),
      async openSession(secret) {
        if (!secret.certificate) throw new Error('no certificate in the credential: it was never taken');
        const cert = parseCertificate(secret.certificate);
        const keyPath = privateKeys.get(cert.keyBlob.toString('base64'));
        if (!keyPath) throw new Error('the certificate certifies a key no user of this test made');
        const session = await openSshSession({
          keyPath,
          certificate: secret.certificate,
          knownHosts: secret.knownHosts as string,
          user: secret.user as string,
          port: Number(secret.port),
        });
        return {
          async doGranted() {
            const r = await session.exec(['id', '-un']);
            if (r.code !== 0 || r.stdout.trim() !== secret.user)
              throw new Error(`command refused: ${r.stderr}`);
            return r.stdout;
          },
          // Port forwarding is not among the role's extensions (permit-pty only): sshd refuses it.
          async doUngranted() {
            const r = await session.remoteForward();
            if (r.code !== 0) throw new Error(`forwarding refused: ${r.stderr.trim()}`);
            return r.stdout;
          },
          alive: () => session.alive(),
          close: () => session.close(),
        };
      },
      /**
       * Nothing is created on the hosts: what exists of a principal is the grant the CA's ledger records,
       * issued and not yet ended. Read from the file, not through the provider.
       */
      async principalExists(principal) {
        let state: LedgerState;
        try {
          state = JSON.parse(readFileSync(join(sshd.stateDir, 'ledger.json'), 'utf8')) as LedgerState;
        } catch {
          return false;
        }
        const record = state.grants[principal];
        return record !== undefined && record.expiresAt > Date.now();
      },
      close: async () => {},
    };
  },
});
