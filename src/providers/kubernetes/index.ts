import { defineKind } from '../kind.js';
import { lazyProvider } from '../lazy-provider.js';
import { kubernetesGrants } from './grants.js';
import { kubernetesOptions, parseKubernetesConfig } from './kube-config.js';
import { principalFor } from './principal-name.js';

/**
 * Kubernetes: per request a ServiceAccount bound to the granted roles (`ClusterRole/view`, `Role/app/deployer`) and
 * a TokenRequest token expiring with the window, handed over as a kubeconfig. Removable (deleting the account
 * invalidates its tokens) and listable (labels and annotations carry the owning store). Requests already
 * authenticated are not undone, and exec/attach/port-forward streams opened before the revoke stay open until
 * they close: `endsSessions` is false. With no `connection`, the pod's own service account is used (in-cluster).
 */
export const kubernetesKind = defineKind({
  kind: 'kubernetes',
  options: kubernetesOptions,
  grants: kubernetesGrants,
  connection: 'optional',
  capabilities: {
    revocation: 'remove',
    listable: true,
    endsSessions: false,
    contactsTargetAtIssue: true,
    inventory: {
      lists: 'standing',
      sees: 'users, groups and ServiceAccounts bound, by a ClusterRoleBinding or RoleBinding no Stint store marked, to cluster-admin, admin or edit, or to a role the policy grants; read with the list on bindings Stint already has. Not: system:masters and other access granted outside RBAC (client certificates, static tokens, cloud IAM mappings, webhook authorizers), and custom roles as powerful as those unless the policy grants them',
    },
  },
  configure: (target, env) => parseKubernetesConfig(target, env),
  // The SDK loads with the first call on a resource of this kind, not with the server.
  create: (config, { owner, logger }) =>
    lazyProvider({ kind: 'kubernetes', principalFor, listStanding: true }, async () =>
      (await import('./kube-provider.js')).createKubernetesProvider({
        config,
        owner,
        ...(logger ? { logger } : {}),
      }),
    ),
});
