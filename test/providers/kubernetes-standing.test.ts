import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubernetesKind } from '../../src/providers/kubernetes/index.js';
import {
  type CredentialProvider,
  NO_CANCEL,
  type StandingPrincipal,
  type TargetOwner,
} from '../../src/providers/provider.js';
import { createKindRegistry } from '../../src/providers/registry.js';
import { CLUSTER_ROLES, kubeconfigFor } from './doubles/kube-fixture.js';
import { type KubeDouble, startKubeDouble } from './doubles/kubernetes.js';
import { makeTestTls } from './doubles/tls.js';

/**
 * The standing-access inventory through the official client against the API server double (a contract test
 * against a double: no cluster runs here), which checks the exact paths and authorizes Stint with the documented
 * RBAC manifest verbatim: bindings made by hand, as a cluster has them, beside two Stint stores' grants.
 */
const ADMIN_TOKEN = `adm.${randomBytes(24).toString('base64url')}`;
const ENV_VAR = 'STINT_STANDING_KUBECONFIG';
const RBAC = '/apis/rbac.authorization.k8s.io/v1';
const tls = makeTestTls();
const registry = createKindRegistry([kubernetesKind]);
const GRANTS = ['ClusterRole/team-a/view', 'Role/team-a/deployer'];
const owner = (): TargetOwner => ({
  deployment: 'standing-test',
  storeId: `st_${randomBytes(8).toString('hex')}`,
});

const binding = (
  kind: 'ClusterRoleBinding' | 'RoleBinding',
  name: string,
  namespace: string | null,
  role: { kind: 'ClusterRole' | 'Role'; name: string },
  subjects: { kind: string; name: string; namespace?: string }[],
  labels?: Record<string, string>,
) => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}), ...(labels ? { labels } : {}) },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', ...role },
  subjects,
});

let double: KubeDouble;
let mine: CredentialProvider;
let theirs: CredentialProvider;
const issued: { provider: CredentialProvider; principal: string; token: string }[] = [];

function providerFor(o: TargetOwner): CredentialProvider {
  const spec = {
    id: 'standing-k8s',
    kind: 'kubernetes',
    connection: { env: ENV_VAR },
    options: kubernetesKind.options.parse({ server: double.url }),
  };
  return registry.create(registry.resolve(spec, { [ENV_VAR]: kubeconfigFor(double.url, tls, ADMIN_TOKEN) }), {
    owner: o,
  });
}

beforeAll(async () => {
  double = await startKubeDouble({
    tls,
    adminToken: ADMIN_TOKEN,
    namespaces: ['team-a', 'default', 'ci'],
    objects: [
      ...CLUSTER_ROLES,
      binding('ClusterRoleBinding', 'platform-admins', null, { kind: 'ClusterRole', name: 'cluster-admin' }, [
        { kind: 'Group', name: 'platform' },
        { kind: 'User', name: 'alice' },
      ]),
      binding('RoleBinding', 'ci-edit', 'team-a', { kind: 'ClusterRole', name: 'edit' }, [
        { kind: 'ServiceAccount', name: 'deployer', namespace: 'ci' },
      ]),
      binding('RoleBinding', 'bob-deploys', 'team-a', { kind: 'Role', name: 'deployer' }, [
        { kind: 'User', name: 'bob' },
      ]),
      binding('ClusterRoleBinding', 'carol-views', null, { kind: 'ClusterRole', name: 'view' }, [
        { kind: 'User', name: 'carol' },
      ]),
      binding('RoleBinding', 'dave-views-default', 'default', { kind: 'ClusterRole', name: 'view' }, [
        { kind: 'User', name: 'dave' },
      ]),
      // A Stint label without the annotation that must agree with it is no Stint mark.
      binding(
        'RoleBinding',
        'erin-admin',
        'team-a',
        { kind: 'ClusterRole', name: 'admin' },
        [{ kind: 'User', name: 'erin' }],
        { 'stint.dev/store': 'st_0000000000000000' },
      ),
    ],
  });
  mine = providerFor(owner());
  theirs = providerFor(owner());
  for (const provider of [mine, theirs]) {
    const cred = await provider.issue(
      {
        requestId: `req_${randomBytes(6).toString('hex')}`,
        requester: 'alice',
        role: 'view',
        grants: GRANTS,
        expiresAt: new Date(Date.now() + 3_600_000),
      },
      NO_CANCEL,
    );
    issued.push({ provider, principal: cred.principal, token: cred.secret.token as string });
  }
});

afterAll(async () => {
  for (const i of issued) await i.provider.revoke({ principal: i.principal }, NO_CANCEL).catch(() => {});
  await double?.close();
});

async function inventory(): Promise<StandingPrincipal[]> {
  const list = mine.listStanding;
  if (!list) throw new Error('the kubernetes provider has no listStanding');
  return (await list({ grants: GRANTS }, NO_CANCEL)).principals;
}
const entry = (all: StandingPrincipal[], principal: string) => all.find((p) => p.principal === principal);

describe('kubernetes standing-access inventory (contract test against an API server double)', () => {
  it('lists subjects bound by hand to cluster-admin, admin, edit or a granted role, in the grants’ notation', async () => {
    const all = await inventory();
    for (const who of ['Group/platform', 'User/alice']) {
      expect(entry(all, who)).toMatchObject({
        privileges: ['ClusterRole/cluster-admin'],
        detail: { bindings: ['ClusterRoleBinding/platform-admins'] },
      });
      expect(entry(all, who)?.reason).toMatch(/every verb on every resource, on the whole cluster/);
    }
    expect(entry(all, 'ServiceAccount/ci/deployer')?.privileges).toEqual(['ClusterRole/team-a/edit']);
    expect(entry(all, 'User/bob')?.privileges).toEqual(['Role/team-a/deployer']);
    expect(entry(all, 'User/bob')?.reason).toMatch(/holds Role\/team-a\/deployer all the time/);
    // view bound cluster-wide holds the policy's ClusterRole/team-a/view, and more.
    expect(entry(all, 'User/carol')?.privileges).toEqual(['ClusterRole/view']);
    expect(entry(all, 'User/carol')?.reason).toMatch(/holds ClusterRole\/team-a\/view all the time/);
    expect(entry(all, 'User/erin')?.privileges).toEqual(['ClusterRole/team-a/admin']);
  });

  it('leaves out bindings to other roles and namespaces', async () => {
    const names = (await inventory()).map((p) => p.principal);
    expect(names).not.toContain('User/dave');
    // Stint's own identity is bound to its own roles only, which are none of these.
    expect(names).not.toContain('User/stint-admin');
  });

  it('never lists what Stint issued, this store’s or another’s, and no token appears', async () => {
    const text = JSON.stringify(await inventory());
    for (const i of issued) {
      expect(text).not.toContain(i.principal);
      expect(text).not.toContain(i.token);
    }
    expect(text).not.toContain(ADMIN_TOKEN);
  });

  it('reads exactly the two binding lists, as the documented RBAC allows, and nothing else', async () => {
    const before = double.calls().length;
    await inventory();
    const calls = double.calls().slice(before);
    expect(calls.map((c) => [c.method, c.path, c.query, c.status, c.user])).toEqual([
      ['GET', `${RBAC}/clusterrolebindings`, {}, 200, 'stint-admin'],
      ['GET', `${RBAC}/rolebindings`, {}, 200, 'stint-admin'],
    ]);
    expect(double.violations()).toEqual([]);
  });
});
