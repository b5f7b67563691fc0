import { StintError } from '../../domain/errors.js';
import type { CredentialProvider, TargetOwner } from '../provider.js';
import { CLOCK_ALLOWANCE_MS, completeCredential } from './complete-credential.js';
import { issueGrant, type SshCa } from './issue-grant.js';
import { openLedger } from './ledger.js';
import { principalFor } from './principal-name.js';
import { revokeGrant } from './revoke-grant.js';
import type { SshConfig } from './ssh-config.js';
import { sshFailure } from './ssh-errors.js';

export interface SshProviderOptions {
  config: SshConfig;
  owner: TargetOwner;
}

/**
 * Stint as an OpenSSH user CA for one resource. Nothing is created on the hosts: they trust the CA
 * (TrustedUserCAKeys), read the KRL Stint publishes (RevokedKeys), and map certificate principals to accounts
 * (AuthorizedPrincipalsFile). Issue records the grant, the take signs the user's key, revoke publishes the cut.
 */
export function createSshProvider({ config, owner }: SshProviderOptions): CredentialProvider {
  const { resourceId } = config;
  const ledger = openLedger(
    { stateDir: config.options.stateDir, krlPath: config.krlPath },
    // Hosts a little behind Stint's clock still accept a certificate that just ended: it stays listed that long.
    { comment: `Stint revocations, user CA ${config.ca.fingerprint}`, keepRevokedMs: 2 * CLOCK_ALLOWANCE_MS },
  );
  const ca: SshCa = { config, owner, ledger };
  const unlisted = async (): Promise<never> => {
    throw new StintError(
      'PROVIDER_ERROR',
      `ssh target ${resourceId}: certificates live with their users, not on the hosts: there is nothing to list (listable: false)`,
      { resource: resourceId, class: 'refused' },
    );
  };

  return {
    kind: 'ssh',
    principalFor,
    issue: (request, signal) => issueGrant(ca, request, signal),
    completeCredential: (request, signal) => completeCredential(ca, request, signal),
    revoke: ({ principal }, signal) => revokeGrant(ca, principal, signal),

    async verifyRevoked({ principal }, signal) {
      try {
        const record = (await ledger.read()).grants[principal];
        // Gone once the window is over: before then a certificate exists, and a host that has not read the
        // newest KRL (or a session opened before it) may still let it in.
        return { gone: record === undefined || record.expiresAt <= Date.now() };
      } catch (e) {
        throw sshFailure(resourceId, `verify ${principal}`, e, signal);
      }
    },

    listOwned: unlisted,
    listForeign: unlisted,

    async ping(_request, signal) {
      try {
        // sshd refuses every key while the file RevokedKeys names is missing: publish one before the first revoke.
        if (!(await ledger.published())) await ledger.update(signal, () => undefined);
        const { krlVersion } = await ledger.read();
        return { target: `OpenSSH user CA ${config.ca.fingerprint}, KRL version ${krlVersion}` };
      } catch (e) {
        throw sshFailure(resourceId, 'ping', e, signal);
      }
    },

    async close() {},
  };
}
