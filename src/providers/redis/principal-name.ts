import { createHash } from 'node:crypto';
import type { TargetOwner } from '../provider.js';

/**
 * Redis users carry no comment, so the name is the tag: `stint_<deployment>_<store>_<request>`.
 *
 * - `<deployment>`: 8 hex digits of SHA-256 of `settings.deployment`, for `listForeign` (two stores sharing a
 *   deployment name) and for people reading `ACL USERS`.
 * - `<store>`: the 16 hex digits of this store's random id (`st_<16 hex>`). Ownership rests on it alone: a user is
 *   this store's exactly when its name carries this store's id, so another store's users are never listed as
 *   ours, revoked or reconciled, whatever their deployment.
 * - `<request>`: the request id verbatim when it is made of `[A-Za-z0-9_-]` (Stint's own `req_<hex>` always is),
 *   else `.` and its UTF-8 in hex. Both forms decode, so the reconciler always learns the request (a user whose
 *   request it could not name would read as an orphan and be removed while its grant is live).
 *
 * Only a holder of `ACL SETUSER` can create a user of a given name, the same right that could forge PostgreSQL's
 * role comment (CREATEROLE); docs/redis-target.md says why that is enough, and why no data key is used instead.
 */
export const PRINCIPAL_PREFIX = 'stint_';

const STORE_ID = /^st_([0-9a-f]{16})$/;
const NAME = /^stint_([0-9a-f]{8})_([0-9a-f]{16})_(.+)$/;
const VERBATIM = /^[A-Za-z0-9_-]+$/;
const ENCODED = /^\.((?:[0-9a-f]{2})+)$/;
/** A request id longer than this is not one Stint made; refusing it keeps names within what a reader can scan. */
export const MAX_REQUEST_ID = 200;

/** The part of a name that says which deployment made it. */
export function deploymentMark(deployment: string): string {
  return createHash('sha256').update(deployment, 'utf8').digest('hex').slice(0, 8);
}

/** The part of a name that says which store made it; null for an id not in the form stores are given. */
export function storeMark(storeId: string): string | null {
  return STORE_ID.exec(storeId)?.[1] ?? null;
}

function encodeRequest(requestId: string): string {
  return VERBATIM.test(requestId) ? requestId : `.${Buffer.from(requestId, 'utf8').toString('hex')}`;
}

function decodeRequest(part: string): string | null {
  if (VERBATIM.test(part)) return part;
  const hex = ENCODED.exec(part)?.[1];
  if (hex === undefined) return null;
  const id = Buffer.from(hex, 'hex').toString('utf8');
  // Only the encoding principalFor would have chosen: a verbatim-able id written in hex is not one of ours.
  return id.length > 0 && !VERBATIM.test(id) && encodeRequest(id) === part ? id : null;
}

/** Deterministic per store and request, so a retry after a crash finds what an earlier attempt left. */
export function principalName(owner: { deployment: string; store: string }, requestId: string): string {
  return `${PRINCIPAL_PREFIX}${owner.deployment}_${owner.store}_${encodeRequest(requestId)}`;
}

/** The marks this owner writes into names; throws for a store id not in the form stores are given. */
export function ownerMarks(owner: TargetOwner): { deployment: string; store: string } {
  const store = storeMark(owner.storeId);
  if (store === null) throw new Error(`store id ${owner.storeId} is not st_ followed by 16 hex digits`);
  return { deployment: deploymentMark(owner.deployment), store };
}

export interface ParsedName {
  deployment: string;
  /** The store id the name carries, as `st_<16 hex>`. */
  storeId: string;
  requestId: string;
}

/** What a user name says about who made it, or null when it is not a name principalName makes. */
export function parseName(name: string): ParsedName | null {
  const m = NAME.exec(name);
  if (!m?.[1] || !m[2] || !m[3]) return null;
  const requestId = decodeRequest(m[3]);
  if (requestId === null || requestId.length > MAX_REQUEST_ID) return null;
  return { deployment: m[1], storeId: `st_${m[2]}`, requestId };
}
