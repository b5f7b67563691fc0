import { permanentProviderError, type RevokeResult } from '../provider.js';
import { deleteMarker, MARKER_KIND, type Marker, readMarker } from './marker.js';
import { isPrincipalName } from './principal-name.js';
import type { VaultAdmin } from './vault-admin.js';
import { isMissing, refusal } from './vault-errors.js';

/** The marker of one of this store's principals, or a refusal for anything else of that name. */
export async function ownMarker(
  admin: VaultAdmin,
  principal: string,
  signal: AbortSignal,
): Promise<Marker | null> {
  const { resourceId } = admin.config;
  if (!isPrincipalName(principal)) {
    // No retry turns a name Stint never makes into one it does.
    throw permanentProviderError(`vault target ${resourceId}: "${principal}" is not a Stint principal name`, {
      resource: resourceId,
    });
  }
  const marker = await readMarker(admin, principal, signal);
  if (marker === null) return null;
  if (marker.data === null) {
    throw refusal(
      resourceId,
      `refusing to touch ${principal}: the secret at its marker path is not a ${MARKER_KIND} marker`,
    );
  }
  if (marker.data.store !== admin.owner.storeId) {
    throw refusal(
      resourceId,
      `refusing to revoke ${principal}: another Stint store (${marker.data.store}, deployment ${marker.data.deployment}) holds it`,
    );
  }
  return marker;
}

/**
 * Ends a principal: each recorded lease revoked (synchronously: its credential is gone when Vault answers), then
 * the issuing token, which also ends any lease read with it that a crash kept from being recorded, then the
 * marker. A lease or token Vault no longer knows counts as revoked. Only this store's markers are acted on.
 */
export async function revokeLeases(
  admin: VaultAdmin,
  principal: string,
  signal: AbortSignal,
): Promise<RevokeResult> {
  const marker = await ownMarker(admin, principal, signal);
  if (marker?.data == null) return { outcome: 'absent' };
  for (const lease of marker.data.leases) {
    // The lease id in the path lets the policy limit Stint to the credential paths it grants.
    await tolerateMissing(admin.http.call({ method: 'PUT', path: `sys/leases/revoke/${lease}` }, signal));
  }
  if (marker.data.accessor !== null) {
    await tolerateMissing(
      admin.http.call(
        { method: 'POST', path: 'auth/token/revoke-accessor', body: { accessor: marker.data.accessor } },
        signal,
      ),
    );
  }
  await deleteMarker(admin, principal, signal);
  return { outcome: 'revoked' };
}

async function tolerateMissing(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (err) {
    if (!isMissing(err)) throw err;
  }
}

interface LeaseLookup {
  data?: { expire_time?: unknown };
}

/**
 * Gone when no marker is left, or when every lease it names and its token are unknown to Vault or past their
 * expiry (ended at the window, the marker not yet removed).
 */
export async function verifyGone(
  admin: VaultAdmin,
  principal: string,
  signal: AbortSignal,
): Promise<boolean> {
  const marker = await readMarker(admin, principal, signal);
  if (marker === null) return true;
  if (marker.data === null) return false;
  for (const lease of marker.data.leases) {
    try {
      const found = await admin.http.call<LeaseLookup>(
        { method: 'PUT', path: 'sys/leases/lookup', body: { lease_id: lease } },
        signal,
      );
      const expires = found?.data?.expire_time;
      if (typeof expires !== 'string' || Date.parse(expires) > Date.now()) return false;
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }
  if (marker.data.accessor !== null) {
    try {
      await admin.http.call(
        { method: 'POST', path: 'auth/token/lookup-accessor', body: { accessor: marker.data.accessor } },
        signal,
      );
      return false;
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }
  return true;
}
