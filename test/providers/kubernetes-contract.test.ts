import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { kubernetesKind } from '../../src/providers/kubernetes/index.js';
import { createKindRegistry } from '../../src/providers/registry.js';
import { providerContract } from './contract.js';
import { CLUSTER_ROLES, kubeconfigFor, openKubeSession } from './doubles/kube-fixture.js';
import { startKubeDouble } from './doubles/kubernetes.js';
import { makeTestTls } from './doubles/tls.js';

/**
 * The whole contract suite against the Kubernetes API through the official client, served by a local HTTPS double
 * of the API server (no cluster runs here): a contract test against a double that checks every request on the
 * wire and authorizes Stint with the RBAC manifest of docs/kubernetes-target.md, verbatim. One double per file,
 * started before the suite is declared: the crash tests' server process reaches it over HTTPS like any cluster.
 */
const ADMIN_TOKEN = `adm.${randomBytes(24).toString('base64url')}`;
const ENV_VAR = 'STINT_CONTRACT_KUBECONFIG';
const tls = makeTestTls();
const double = await startKubeDouble({
  tls,
  adminToken: ADMIN_TOKEN,
  namespaces: ['team-a', 'default'],
  objects: CLUSTER_ROLES,
  latencyMs: 1,
});
afterAll(() => double.close());

const registry = createKindRegistry([kubernetesKind]);
const options = kubernetesKind.options.parse({ namespace: 'stint', server: double.url });
const spec = { id: 'contract-k8s', kind: 'kubernetes', connection: { env: ENV_VAR }, options };

providerContract('kubernetes (contract test against an API server double)', {
  kind: kubernetesKind,
  networked: true,
  server: {
    resourceYaml: `  - id: crash-target
    kind: kubernetes
    sensitivity: routine
    connection: { env: ${ENV_VAR} }
    options: { namespace: stint }
    roles:
      use: { grants: [ClusterRole/team-a/view] }`,
    env: { [ENV_VAR]: kubeconfigFor(double.url, tls, ADMIN_TOKEN) },
  },
  fixture: async () => ({
    endpoint: { host: '127.0.0.1', port: double.port },
    grants: ['ClusterRole/team-a/view'],
    unknownGrant: 'ClusterRole/no-such-role',
    makeProvider: (owner, via) =>
      registry.create(
        registry.resolve(spec, {
          [ENV_VAR]: kubeconfigFor(via ? `https://${via.host}:${via.port}` : double.url, tls, ADMIN_TOKEN),
        }),
        { owner },
      ),
    openSession: openKubeSession,
    principalExists: async (principal) => double.principalExists(principal),
    async makeStanding() {
      const user = `standing-alice-${randomBytes(4).toString('hex')}`;
      const name = `standing-admins-${randomBytes(4).toString('hex')}`;
      // As a cluster administrator would have left it: a ClusterRoleBinding made by hand, no Stint mark.
      double.put({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'User', name: user, apiGroup: 'rbac.authorization.k8s.io' }],
      });
      return {
        principal: `User/${user}`,
        privilege: 'ClusterRole/cluster-admin',
        // A user's credential is a client certificate or an identity provider's token, never on the cluster.
        secrets: [],
        drop: async () => double.remove('ClusterRoleBinding', null, name),
      };
    },
    close: async () => {},
  }),
});

describe('kubernetes double: the wire', () => {
  it('saw no request outside the API as Stint should call it, and Stint was never denied by the documented RBAC', () => {
    expect(double.violations()).toEqual([]);
    const calls = double.calls();
    expect(calls.length).toBeGreaterThan(100);
    const forbidden = calls.filter((c) => c.status === 403 && c.user === 'stint-admin');
    expect(forbidden).toEqual([]);
  });
});
