import type { V1ObjectMeta, V1ServiceAccount } from '@kubernetes/client-node';
import { permanentProviderError, type RevokeResult } from '../provider.js';
import type { KubeAdmin } from './kube-admin.js';
import { isConflict, isNotFound, refusal } from './kube-errors.js';
import { isPrincipalName, ownSelector, parseMark } from './principal-name.js';

/** A binding this store made for one principal. */
export interface OwnBinding {
  kind: 'ClusterRoleBinding' | 'RoleBinding';
  namespace: string | null;
  name: string;
  meta: V1ObjectMeta | undefined;
}

/** Reconciliation's and revoke's reads of bindings go through the label selector, then the exact annotation. */
export async function ownBindings(
  admin: KubeAdmin,
  signal: AbortSignal,
  principal?: string,
): Promise<OwnBinding[]> {
  const k = await admin.apis();
  const labelSelector = ownSelector(admin.owner, principal);
  const cluster = await k.rbac.listClusterRoleBinding({ labelSelector }, k.call(signal));
  const namespaced = await k.rbac.listRoleBindingForAllNamespaces({ labelSelector }, k.call(signal));
  const out: OwnBinding[] = [];
  for (const b of cluster.items) {
    if (parseMark(b.metadata)?.storeId === admin.owner.storeId && b.metadata?.name) {
      out.push({ kind: 'ClusterRoleBinding', namespace: null, name: b.metadata.name, meta: b.metadata });
    }
  }
  for (const b of namespaced.items) {
    if (parseMark(b.metadata)?.storeId === admin.owner.storeId && b.metadata?.name && b.metadata.namespace) {
      out.push({
        kind: 'RoleBinding',
        namespace: b.metadata.namespace,
        name: b.metadata.name,
        meta: b.metadata,
      });
    }
  }
  return out;
}

export async function readAccount(
  admin: KubeAdmin,
  principal: string,
  signal: AbortSignal,
): Promise<V1ServiceAccount | null> {
  const k = await admin.apis();
  try {
    return await k.core.readNamespacedServiceAccount(
      { name: principal, namespace: admin.config.namespace },
      k.call(signal),
    );
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

const tolerate404 = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
};

/**
 * Ends a principal: its bindings deleted first (its access goes at once), then its ServiceAccount, with the uid
 * read as a precondition so a ServiceAccount re-created meanwhile is never the one deleted. Deleting the account
 * invalidates every token minted for it: the API server checks the account (and its uid) on each request. Only
 * objects carrying this store's mark are touched; an object already gone counts as removed.
 */
export async function revokeAccount(
  admin: KubeAdmin,
  principal: string,
  signal: AbortSignal,
): Promise<RevokeResult> {
  const { resourceId, namespace } = admin.config;
  if (!isPrincipalName(principal)) {
    // No retry turns a name Stint never makes into one it does.
    throw permanentProviderError(
      `kubernetes target ${resourceId}: "${principal}" is not a Stint principal name`,
      {
        resource: resourceId,
      },
    );
  }
  const k = await admin.apis();
  const account = await readAccount(admin, principal, signal);
  if (account !== null) {
    const mark = parseMark(account.metadata);
    if (mark === null) {
      throw refusal(
        resourceId,
        `refusing to revoke ServiceAccount ${namespace}/${principal}: Stint did not create it (no stint.dev/store mark)`,
      );
    }
    if (mark.storeId !== admin.owner.storeId) {
      throw refusal(
        resourceId,
        `refusing to revoke ServiceAccount ${namespace}/${principal}: another Stint store (${mark.storeId}, deployment ${mark.deployment ?? 'unnamed'}) created it`,
      );
    }
  }
  const bindings = await ownBindings(admin, signal, principal);
  if (account === null && bindings.length === 0) return { outcome: 'absent' };
  for (const b of bindings) {
    await tolerate404(
      b.kind === 'ClusterRoleBinding'
        ? k.rbac.deleteClusterRoleBinding({ name: b.name }, k.call(signal))
        : k.rbac.deleteNamespacedRoleBinding(
            { name: b.name, namespace: b.namespace as string },
            k.call(signal),
          ),
    );
  }
  const uid = account?.metadata?.uid;
  if (account !== null && uid) {
    try {
      await k.core.deleteNamespacedServiceAccount(
        { name: principal, namespace, body: { preconditions: { uid } } },
        k.call(signal),
      );
    } catch (err) {
      // 409: the uid differs, the account was replaced since we read it; the next revoke looks again.
      if (isConflict(err))
        throw refusal(
          resourceId,
          `ServiceAccount ${namespace}/${principal} was replaced while revoking it; revoke again`,
        );
      if (!isNotFound(err)) throw err;
    }
  }
  return { outcome: 'revoked' };
}

/** Gone when neither the ServiceAccount nor any of this store's bindings for it is left. */
export async function verifyGone(admin: KubeAdmin, principal: string, signal: AbortSignal): Promise<boolean> {
  if ((await readAccount(admin, principal, signal)) !== null) return false;
  return (await ownBindings(admin, signal, principal)).length === 0;
}
