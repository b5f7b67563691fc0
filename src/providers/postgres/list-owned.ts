import type { ForeignPrincipal, OwnedPrincipal } from '../provider.js';
import type { Admin } from './connect.js';
import { taggedRoles } from './tags.js';

/** Roles this store created and that still exist, and untagged legacy roles of this deployment's name. */
export async function listOwned(admin: Admin, signal: AbortSignal): Promise<OwnedPrincipal[]> {
  const { owner } = admin;
  const owned: OwnedPrincipal[] = [];
  for (const r of await taggedRoles(admin, signal)) {
    const legacy = r.tag.storeId === null;
    // Another store's roles are theirs to reconcile, even under our name; untagged legacy roles are ours
    // only if the caller's store knows their request.
    const theirs = legacy
      ? r.tag.deployment !== null && r.tag.deployment !== owner.deployment
      : r.tag.storeId !== owner.storeId;
    if (!theirs) {
      owned.push({
        principal: r.principal,
        requestId: r.tag.requestId || null,
        claim: legacy ? 'if-known' : 'store',
      });
    }
  }
  return owned;
}

/** Roles another store tagged with this deployment's name: two deployments share the name. */
export async function listForeign(admin: Admin, signal: AbortSignal): Promise<ForeignPrincipal[]> {
  const { owner } = admin;
  const foreign: ForeignPrincipal[] = [];
  for (const r of await taggedRoles(admin, signal)) {
    const { storeId, deployment } = r.tag;
    if (storeId !== null && storeId !== owner.storeId && deployment === owner.deployment)
      foreign.push({ principal: r.principal, storeId });
  }
  return foreign;
}
