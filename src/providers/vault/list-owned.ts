import type { ForeignPrincipal, OwnedPrincipal } from '../provider.js';
import { listMarkerNames, type MarkerData, readMarker } from './marker.js';
import { isPrincipalName } from './principal-name.js';
import type { VaultAdmin } from './vault-admin.js';

/** Every Stint marker under the prefix, read: the name says nothing, the marker's store id says whose it is. */
async function markers(
  admin: VaultAdmin,
  signal: AbortSignal,
): Promise<{ principal: string; data: MarkerData }[]> {
  const out: { principal: string; data: MarkerData }[] = [];
  for (const principal of await listMarkerNames(admin, signal)) {
    if (!isPrincipalName(principal)) continue;
    const marker = await readMarker(admin, principal, signal);
    if (marker?.data) out.push({ principal, data: marker.data });
  }
  return out;
}

/** What this store recorded and has not ended, whether its leases are still live or a crash left them half-made. */
export async function listOwned(admin: VaultAdmin, signal: AbortSignal): Promise<OwnedPrincipal[]> {
  return (await markers(admin, signal))
    .filter((m) => m.data.store === admin.owner.storeId)
    .map((m) => ({ principal: m.principal, requestId: m.data.request || null, claim: 'store' as const }));
}

/** Markers another store wrote under this deployment's name: two deployments share the name. */
export async function listForeign(admin: VaultAdmin, signal: AbortSignal): Promise<ForeignPrincipal[]> {
  const { owner } = admin;
  return (await markers(admin, signal))
    .filter((m) => m.data.store !== owner.storeId && m.data.deployment === owner.deployment)
    .map((m) => ({ principal: m.principal, storeId: m.data.store }));
}
