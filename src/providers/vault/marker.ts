import type { VaultAdmin } from './vault-admin.js';
import { isMissing } from './vault-errors.js';

/**
 * What Stint records in Vault for each principal, in a KV version 2 secret at `<markerMount>/data/<markerPrefix>/
 * <principal>`: who owns it (the store's random id), which request, and what to end — the issuing token's
 * accessor and every lease read with it. Vault keeps no caller metadata on a lease, so this record is what ties a
 * lease to a store; it is written before anything it names exists, so a crash never leaves a lease unrecorded.
 */
export const MARKER_KIND = 'stint-vault/1';

export interface MarkerData {
  kind: typeof MARKER_KIND;
  request: string;
  store: string;
  deployment: string;
  /** The issuing token's accessor, once created: revoking it ends every lease read with the token. */
  accessor: string | null;
  /** Lease ids, each recorded as soon as Vault answers it. */
  leases: string[];
}

export interface Marker {
  /** KV version, for check-and-set writes. */
  version: number;
  /** Null when the secret at that path is not a Stint marker (someone else's data): never touched. */
  data: MarkerData | null;
}

const dataPath = (admin: VaultAdmin, principal: string) =>
  `${admin.config.markerMount}/data/${admin.config.markerPrefix}/${principal}`;
const metadataPath = (admin: VaultAdmin, principal: string) =>
  `${admin.config.markerMount}/metadata/${admin.config.markerPrefix}/${principal}`;

const isString = (v: unknown): v is string => typeof v === 'string';

function parseMarker(raw: unknown): MarkerData | null {
  if (raw === null || typeof raw !== 'object') return null;
  const d = raw as Record<string, unknown>;
  if (d.kind !== MARKER_KIND || !isString(d.request) || !isString(d.store) || !isString(d.deployment))
    return null;
  if (d.accessor !== null && !isString(d.accessor)) return null;
  if (!Array.isArray(d.leases) || !d.leases.every(isString)) return null;
  return {
    kind: MARKER_KIND,
    request: d.request,
    store: d.store,
    deployment: d.deployment,
    accessor: d.accessor,
    leases: d.leases,
  };
}

interface KvRead {
  data?: { data?: unknown; metadata?: { version?: unknown } };
}

export async function readMarker(
  admin: VaultAdmin,
  principal: string,
  signal: AbortSignal,
): Promise<Marker | null> {
  let answer: KvRead | null;
  try {
    answer = await admin.http.call<KvRead>({ method: 'GET', path: dataPath(admin, principal) }, signal);
  } catch (err) {
    // 404: no marker, or only deleted versions of one.
    if (isMissing(err)) return null;
    throw err;
  }
  const version = answer?.data?.metadata?.version;
  return { version: typeof version === 'number' ? version : 0, data: parseMarker(answer?.data?.data) };
}

/**
 * Writes the marker only if it is still at `cas` (0: only if absent), so two writers never overwrite each other;
 * answers the new version.
 */
export async function writeMarker(
  admin: VaultAdmin,
  principal: string,
  data: MarkerData,
  cas: number,
  signal: AbortSignal,
): Promise<number> {
  const answer = await admin.http.call<{ data?: { version?: unknown } }>(
    { method: 'POST', path: dataPath(admin, principal), body: { options: { cas }, data } },
    signal,
  );
  const version = answer?.data?.version;
  return typeof version === 'number' ? version : cas + 1;
}

/** Every version and the metadata: nothing of the marker is left to read. */
export async function deleteMarker(admin: VaultAdmin, principal: string, signal: AbortSignal): Promise<void> {
  try {
    await admin.http.call({ method: 'DELETE', path: metadataPath(admin, principal) }, signal);
  } catch (err) {
    if (!isMissing(err)) throw err;
  }
}

/** The principal names under the marker prefix, of every store (each marker says whose it is). */
export async function listMarkerNames(admin: VaultAdmin, signal: AbortSignal): Promise<string[]> {
  let answer: { data?: { keys?: unknown } } | null;
  try {
    answer = await admin.http.call<{ data?: { keys?: unknown } }>(
      { method: 'LIST', path: `${admin.config.markerMount}/metadata/${admin.config.markerPrefix}/` },
      signal,
    );
  } catch (err) {
    // Vault answers an empty LIST with 404.
    if (isMissing(err)) return [];
    throw err;
  }
  const keys = answer?.data?.keys;
  return Array.isArray(keys) ? keys.filter((k): k is string => isString(k) && !k.endsWith('/')) : [];
}
