import type { ForeignPrincipal, OwnedPrincipal } from '../provider.js';
import type { KubeAdmin } from './kube-admin.js';
import { isPrincipalName, ownSelector, PRINCIPAL_LABEL, parseMark, STORE_LABEL } from './principal-name.js';
import { ownBindings } from './revoke-account.js';

/**
 * This store's ServiceAccounts, and the principals of this store's bindings whose account is gone (deleted by
 * hand: a binding left naming it would give its permissions to whoever re-creates that name).
 */
export async function listOwned(admin: KubeAdmin, signal: AbortSignal): Promise<OwnedPrincipal[]> {
  const { owner, config } = admin;
  const k = await admin.apis();
  const owned = new Map<string, string | null>();
  const accounts = await k.core.listNamespacedServiceAccount(
    { namespace: config.namespace, labelSelector: ownSelector(owner) },
    k.call(signal),
  );
  for (const sa of accounts.items) {
    const name = sa.metadata?.name;
    const mark = parseMark(sa.metadata);
    if (name && isPrincipalName(name) && mark?.storeId === owner.storeId) owned.set(name, mark.requestId);
  }
  for (const b of await ownBindings(admin, signal)) {
    const name = b.meta?.labels?.[PRINCIPAL_LABEL];
    if (name && isPrincipalName(name) && !owned.has(name))
      owned.set(name, parseMark(b.meta)?.requestId ?? null);
  }
  return [...owned].map(([principal, requestId]) => ({ principal, requestId, claim: 'store' as const }));
}

/** ServiceAccounts another store made under this deployment's name: two deployments share the name. */
export async function listForeign(admin: KubeAdmin, signal: AbortSignal): Promise<ForeignPrincipal[]> {
  const { owner, config } = admin;
  const k = await admin.apis();
  const accounts = await k.core.listNamespacedServiceAccount(
    { namespace: config.namespace, labelSelector: STORE_LABEL },
    k.call(signal),
  );
  const out: ForeignPrincipal[] = [];
  for (const sa of accounts.items) {
    const mark = parseMark(sa.metadata);
    const name = sa.metadata?.name;
    if (name && mark && mark.storeId !== owner.storeId && mark.deployment === owner.deployment) {
      out.push({ principal: name, storeId: mark.storeId });
    }
  }
  return out;
}
