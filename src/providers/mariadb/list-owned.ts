import type { ForeignPrincipal, OwnedPrincipal } from '../provider.js';
import type { Admin } from './connect.js';
import { markedAccounts } from './marks.js';

/** Accounts this store marked and that still exist. The mark always carries a store id: every claim is `store`. */
export async function listOwned(admin: Admin, signal: AbortSignal): Promise<OwnedPrincipal[]> {
  const rows = await markedAccounts(admin, signal);
  return rows
    .filter((r) => r.mark.storeId === admin.owner.storeId)
    .map((r) => ({ principal: r.principal, requestId: r.mark.requestId || null, claim: 'store' as const }));
}

/** Accounts another store marked with this deployment's name: two deployments share the name. */
export async function listForeign(admin: Admin, signal: AbortSignal): Promise<ForeignPrincipal[]> {
  const { owner } = admin;
  return (await markedAccounts(admin, signal))
    .filter((r) => r.mark.storeId !== owner.storeId && r.mark.deployment === owner.deployment)
    .map((r) => ({ principal: r.principal, storeId: r.mark.storeId }));
}
