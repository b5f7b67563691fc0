import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * A policy role's grant on a cluster, as RBAC names it: `ClusterRole/<name>` (bound cluster-wide by a
 * ClusterRoleBinding), `ClusterRole/<namespace>/<name>` (a ClusterRole bound in one namespace by a RoleBinding,
 * the usual way to give `view` or `edit` on one namespace) or `Role/<namespace>/<name>`.
 */
export interface GrantRef {
  kind: 'ClusterRole' | 'Role';
  /** The binding's namespace; null for a ClusterRoleBinding. */
  namespace: string | null;
  name: string;
}

/** DNS-1123 label, as namespaces are named. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** RBAC role names are path segments: `view`, `system:aggregate-to-edit`, `team.deployer`. */
const ROLE_NAME = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,252}$/;

export function parseGrant(grant: string): GrantRef | null {
  const parts = grant.split('/');
  const [kind, a, b] = parts;
  if (kind !== 'ClusterRole' && kind !== 'Role') return null;
  if (parts.length === 2 && kind === 'ClusterRole' && a && ROLE_NAME.test(a)) {
    return { kind, namespace: null, name: a };
  }
  if (parts.length === 3 && a && b && DNS_LABEL.test(a) && ROLE_NAME.test(b))
    return { kind, namespace: a, name: b };
  return null;
}

export const kubernetesGrants = z
  .array(
    z.string().refine((g) => parseGrant(g) !== null, {
      error:
        'must be ClusterRole/<name>, ClusterRole/<namespace>/<name> or Role/<namespace>/<name> (namespace a DNS label)',
    }),
  )
  .min(1, { error: 'must grant at least one role' });

/**
 * The binding Stint makes for one grant of one principal: `<principal>-<hash of the grant>`, so a retry finds
 * what an earlier attempt made and two grants never share a name.
 */
export function bindingName(principal: string, grant: GrantRef): string {
  const key = `${grant.kind}/${grant.namespace ?? ''}/${grant.name}`;
  return `${principal}-${createHash('sha256').update(key).digest('hex').slice(0, 10)}`;
}

export function describeGrant(grant: GrantRef): string {
  return grant.namespace === null
    ? `${grant.kind}/${grant.name}`
    : `${grant.kind}/${grant.namespace}/${grant.name}`;
}
