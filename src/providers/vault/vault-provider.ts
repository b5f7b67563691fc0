import type { Logger } from '../../logger.js';
import { guardCalls } from '../guard-calls.js';
import { joinRevokes } from '../join-revokes.js';
import type { CredentialProvider, TargetOwner } from '../provider.js';
import { issueLeases } from './issue-lease.js';
import { listForeign, listOwned } from './list-owned.js';
import { principalFor } from './principal-name.js';
import { revokeLeases, verifyGone } from './revoke-lease.js';
import { connectVault } from './vault-admin.js';
import type { VaultConfig } from './vault-config.js';

export interface VaultProviderOptions {
  config: VaultConfig;
  /** Written in every marker; listOwned returns only markers carrying this store id. */
  owner: TargetOwner;
  logger?: Logger;
}

interface Health {
  version?: unknown;
  sealed?: unknown;
}

/**
 * Dynamic secrets from Vault or OpenBao: per request, the credentials of the secrets-engine roles its policy role
 * grants, each a lease no longer than the window, read with an issuing token that Vault itself ends at the
 * window's end. docs/vault-target.md lists the policy Stint's token needs.
 */
export function createVaultProvider(opts: VaultProviderOptions): CredentialProvider {
  const admin = connectVault(opts.config, opts.owner, opts.logger);

  const revoke = joinRevokes((principal, signal) =>
    guarded(`revoke ${principal}`, signal, () => revokeLeases(admin, principal, signal)),
  );

  const guarded = guardCalls((action, err, signal) => admin.fail(action, err, signal));

  return {
    kind: 'vault',
    principalFor,
    issue: (request, signal) => issueLeases(admin, request, signal, revoke),
    revoke: ({ principal }, signal) => revoke(principal, signal),
    verifyRevoked: ({ principal }, signal) =>
      guarded(`verify ${principal}`, signal, async () => ({
        gone: await verifyGone(admin, principal, signal),
      })),
    listOwned: (_request, signal) =>
      guarded('list owned markers', signal, async () => ({ principals: await listOwned(admin, signal) })),
    listForeign: (_request, signal) =>
      guarded('list foreign markers', signal, async () => ({ principals: await listForeign(admin, signal) })),
    ping: (_request, signal) =>
      guarded('ping', signal, async () => {
        const health = await admin.http.call<Health>(
          {
            method: 'GET',
            path: 'sys/health',
            query: { standbyok: 'true', perfstandbyok: 'true' },
            anonymous: true,
            root: true,
          },
          signal,
        );
        // Stint's own token must still be good: a rotated or expired one is what a readiness probe should catch.
        await admin.http.call({ method: 'GET', path: 'auth/token/lookup-self' }, signal);
        const version = typeof health?.version === 'string' ? health.version : 'unknown';
        return { target: `Vault ${version}` };
      }),
    async close() {},
  };
}
