import type { Logger } from '../../logger.js';
import { guardCalls } from '../guard-calls.js';
import { joinRevokes } from '../join-revokes.js';
import type { CredentialProvider, TargetOwner } from '../provider.js';
import { issueAccount } from './issue-account.js';
import { connectKube } from './kube-admin.js';
import type { KubernetesConfig } from './kube-config.js';
import { listForeign, listOwned } from './list-owned.js';
import { listStanding } from './list-standing.js';
import { principalFor } from './principal-name.js';
import { revokeAccount, verifyGone } from './revoke-account.js';

export interface KubernetesProviderOptions {
  config: KubernetesConfig;
  /** Written on every object created; listOwned returns only objects carrying this store id. */
  owner: TargetOwner;
  logger?: Logger;
}

/**
 * Credentials on a Kubernetes cluster: per request a ServiceAccount, bound to the roles its policy role grants,
 * and a TokenRequest token that the API server expires at the window's end, handed over as a kubeconfig.
 * docs/kubernetes-target.md lists the RBAC Stint's own identity needs.
 */
export function createKubernetesProvider(opts: KubernetesProviderOptions): CredentialProvider {
  const admin = connectKube(opts.config, opts.owner, opts.logger);
  // Start loading the client now that a resource uses it, so the first issuance does not wait for the import; a
  // failure here is met again, and reported, by the first call.
  admin.apis().catch(() => {});

  const revoke = joinRevokes((principal, signal) =>
    guarded(`revoke ${principal}`, signal, () => revokeAccount(admin, principal, signal)),
  );

  const guarded = guardCalls((action, err, signal) => admin.fail(action, err, signal));

  return {
    kind: 'kubernetes',
    principalFor,
    issue: (request, signal) => issueAccount(admin, request, signal, revoke),
    revoke: ({ principal }, signal) => revoke(principal, signal),
    verifyRevoked: ({ principal }, signal) =>
      guarded(`verify ${principal}`, signal, async () => ({
        gone: await verifyGone(admin, principal, signal),
      })),
    listOwned: (_request, signal) =>
      guarded('list owned service accounts', signal, async () => ({
        principals: await listOwned(admin, signal),
      })),
    listForeign: (_request, signal) =>
      guarded('list foreign service accounts', signal, async () => ({
        principals: await listForeign(admin, signal),
      })),
    listStanding: ({ grants }, signal) =>
      guarded('list standing bindings', signal, async () => ({
        principals: await listStanding(admin, grants, signal),
      })),
    ping: (_request, signal) =>
      guarded('ping', signal, async () => {
        const k = await admin.apis();
        const version = await k.version.getCode(undefined, k.call(signal));
        // Stint's own credentials must still be good where it works: what a readiness probe should catch.
        await k.core.listNamespacedServiceAccount(
          { namespace: opts.config.namespace, limit: 1 },
          k.call(signal),
        );
        return { target: `Kubernetes ${version.gitVersion}` };
      }),
    async close() {},
  };
}
