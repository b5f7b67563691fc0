import { AuthenticationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { ContractSession } from '../contract.js';
import type { TestTls } from './tls.js';

/** The roles the test cluster has besides Stint's own RBAC: what policies grant, and what Stint must refuse. */
export const CLUSTER_ROLES = [
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'view' },
    rules: [
      { apiGroups: [''], resources: ['pods', 'configmaps', 'services'], verbs: ['get', 'list', 'watch'] },
    ],
  },
  {
    // As the built-in edit role: impersonating service accounts and creating secrets outlive a revoke.
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'edit' },
    rules: [
      {
        apiGroups: [''],
        resources: ['pods', 'configmaps', 'secrets'],
        verbs: ['create', 'delete', 'get', 'list', 'patch', 'update'],
      },
      { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['impersonate'] },
    ],
  },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'cluster-admin' },
    rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
  },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: 'deployer', namespace: 'team-a' },
    rules: [
      {
        apiGroups: ['apps'],
        resources: ['deployments'],
        verbs: ['get', 'list', 'create', 'update', 'patch'],
      },
      { apiGroups: [''], resources: ['secrets'], verbs: ['list'] },
    ],
  },
];

/** A kubeconfig for `server`, trusting the test CA, authenticating with a bearer token. */
export function kubeconfigFor(server: string, tls: TestTls, token: string, user = 'stint-admin'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'double',
        cluster: { server, 'certificate-authority-data': Buffer.from(tls.ca).toString('base64') },
      },
    ],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'double', context: { cluster: 'double', user } }],
    'current-context': 'double',
  });
}

/**
 * A session as the user would hold it: the handed-over kubeconfig loaded by the official client. Logging in is a
 * SelfSubjectReview (refused with 401 once the token stops authenticating); `view` in team-a lets it list pods,
 * never secrets.
 */
export async function openKubeSession(secret: Record<string, string>): Promise<ContractSession> {
  const kc = new KubeConfig();
  kc.loadFromString(secret.kubeconfig as string);
  const auth = kc.makeApiClient(AuthenticationV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const whoami = () =>
    auth.createSelfSubjectReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
  await whoami();
  return {
    doGranted: () => core.listNamespacedPod({ namespace: 'team-a' }),
    doUngranted: () => core.listNamespacedSecret({ namespace: 'team-a' }),
    alive: () =>
      whoami().then(
        () => true,
        () => false,
      ),
    close: async () => {},
  };
}
