import type { RbacV1Subject, V1ObjectMeta, V1RoleRef } from '@kubernetes/client-node';
import type { StandingPrincipal } from '../provider.js';
import { describeGrant, type GrantRef, parseGrant } from './grants.js';
import type { KubeAdmin } from './kube-admin.js';
import { parseMark } from './principal-name.js';

/** The built-in ClusterRoles that are administration wherever they are bound. */
const BROAD: Readonly<Record<string, string>> = {
  'cluster-admin': 'cluster-admin: every verb on every resource',
  admin: 'admin: everything in a namespace, RBAC included',
  edit: 'edit: writes most objects, reads secrets, runs as any service account of the namespace',
};

interface Binding {
  kind: 'ClusterRoleBinding' | 'RoleBinding';
  meta: V1ObjectMeta | undefined;
  roleRef: V1RoleRef;
  subjects: RbacV1Subject[] | undefined;
}

/** What a binding gives, in the grants' own notation: `ClusterRole/view`, `ClusterRole/app/edit`, `Role/app/x`. */
function given(b: Binding): GrantRef | null {
  const namespace = b.kind === 'RoleBinding' ? (b.meta?.namespace ?? null) : null;
  if (b.roleRef.kind === 'ClusterRole') return { kind: 'ClusterRole', namespace, name: b.roleRef.name };
  if (b.roleRef.kind === 'Role' && namespace !== null)
    return { kind: 'Role', namespace, name: b.roleRef.name };
  return null;
}

/** Whether holding `held` all the time includes what the policy grant `wanted` gives for a window. */
function covers(held: GrantRef, wanted: GrantRef): boolean {
  if (held.kind !== wanted.kind || held.name !== wanted.name) return false;
  // A ClusterRole bound cluster-wide holds it in every namespace.
  return held.namespace === null || held.namespace === wanted.namespace;
}

/** `User/alice`, `Group/ops`, `ServiceAccount/ci/deployer`: subjects as a cluster names them. */
function subjectName(s: RbacV1Subject, binding: Binding): string {
  if (s.kind === 'ServiceAccount')
    return `ServiceAccount/${s.namespace ?? binding.meta?.namespace ?? ''}/${s.name}`;
  return `${s.kind}/${s.name}`;
}

/**
 * Users, groups and ServiceAccounts bound, by a binding no Stint store marked, to `cluster-admin`, `admin` or
 * `edit`, or to a role the policy grants (a ClusterRoleBinding to a ClusterRole the policy grants in one namespace
 * counts: it holds it in every one). Read with the `list` on bindings the documented RBAC already gives Stint.
 */
export async function listStanding(
  admin: KubeAdmin,
  grants: readonly string[],
  signal: AbortSignal,
): Promise<StandingPrincipal[]> {
  const k = await admin.apis();
  const wanted = grants.flatMap((g) => parseGrant(g) ?? []);
  const cluster = await k.rbac.listClusterRoleBinding({}, k.call(signal));
  const namespaced = await k.rbac.listRoleBindingForAllNamespaces({}, k.call(signal));
  const bindings: Binding[] = [
    ...cluster.items.map((b) => ({
      kind: 'ClusterRoleBinding' as const,
      meta: b.metadata,
      roleRef: b.roleRef,
      subjects: b.subjects,
    })),
    ...namespaced.items.map((b) => ({
      kind: 'RoleBinding' as const,
      meta: b.metadata,
      roleRef: b.roleRef,
      subjects: b.subjects,
    })),
  ];

  const bySubject = new Map<
    string,
    { privileges: Set<string>; reasons: Set<string>; bindings: Set<string> }
  >();
  for (const b of bindings) {
    if (parseMark(b.meta) !== null) continue;
    const held = given(b);
    if (held === null) continue;
    const broad = held.kind === 'ClusterRole' ? BROAD[held.name] : undefined;
    const granted = wanted.filter((w) => covers(held, w));
    if (broad === undefined && granted.length === 0) continue;
    const where = held.namespace === null ? 'on the whole cluster' : `in namespace ${held.namespace}`;
    const reasons = [
      ...(broad ? [`${broad}, ${where}`] : []),
      ...granted.map((w) => `holds ${describeGrant(w)} all the time, which the policy grants just in time`),
    ];
    const bindingName =
      b.kind === 'RoleBinding'
        ? `RoleBinding/${b.meta?.namespace}/${b.meta?.name}`
        : `ClusterRoleBinding/${b.meta?.name}`;
    for (const s of b.subjects ?? []) {
      const name = subjectName(s, b);
      let entry = bySubject.get(name);
      if (!entry) {
        entry = { privileges: new Set(), reasons: new Set(), bindings: new Set() };
        bySubject.set(name, entry);
      }
      entry.privileges.add(describeGrant(held));
      for (const r of reasons) entry.reasons.add(r);
      entry.bindings.add(bindingName);
    }
  }
  return [...bySubject]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([principal, e]) => ({
      principal,
      privileges: [...e.privileges].sort(),
      reason: [...e.reasons].join('; '),
      detail: { bindings: [...e.bindings].sort() },
    }));
}
