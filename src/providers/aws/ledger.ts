import type { TargetOwner } from '../provider.js';

/**
 * What Stint records beside what it grants, as one tag per grant on the role or permission set granted:
 *
 *   key   `stint:<store id>:<principal>`
 *   value `request=<id> deployment=<name> until=<epoch s> …` (mode-specific fields follow)
 *
 * The store id in the key is what ownership rests on: a tag of another store, or a name alone, is never taken for
 * this store's. Tags are written one key per grant (TagRole/TagResource replace one key, never the whole set), so
 * concurrent grants never overwrite each other's records.
 */
export const LEDGER_PREFIX = 'stint:';

/** Characters both IAM and Identity Center accept in tag keys and values. */
const TAG_TEXT = /^[A-Za-z0-9 _.:/=+@-]*$/;

export interface LedgerEntry {
  storeId: string;
  principal: string;
  requestId: string;
  deployment: string;
  /** End of the window, in seconds since the epoch. */
  until: number;
  /** The mode's own fields (state, attempt; user, account). */
  fields: Record<string, string>;
}

export function ledgerKey(storeId: string, principal: string): string {
  return `${LEDGER_PREFIX}${storeId}:${principal}`;
}

export function ledgerValue(entry: Omit<LedgerEntry, 'storeId' | 'principal'>): string {
  const fields = {
    request: entry.requestId,
    deployment: ledgerDeployment(entry.deployment),
    until: String(entry.until),
    ...entry.fields,
  };
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/** The entry a tag records, or null when the tag is not a Stint ledger tag. */
export function parseLedger(key: string, value: string): LedgerEntry | null {
  const m = /^stint:([^:]+):(stint-.+)$/.exec(key);
  if (!m?.[1] || !m[2]) return null;
  const fields: Record<string, string> = {};
  for (const part of value.split(' ')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields[part.slice(0, eq)] = part.slice(eq + 1);
  }
  const { request, deployment, until, ...rest } = fields;
  const end = Number(until);
  if (!request || !Number.isSafeInteger(end)) return null;
  return {
    storeId: m[1],
    principal: m[2],
    requestId: request,
    deployment: deployment ?? '',
    until: end,
    fields: rest,
  };
}

/** Whether text can go into a tag key or value as is; ids Stint makes always can, checked anyway. */
export function isTagText(text: string): boolean {
  return TAG_TEXT.test(text) && text.length <= 128;
}

/**
 * A deployment's name as a tag can carry it: a policy's names always fit, anything else has its other characters
 * turned into `_`. Compared in this form too (listForeign).
 */
export function tagSafe(text: string, max = 64): string {
  return text.replace(/[^A-Za-z0-9 _.:/=+@-]/g, '_').slice(0, max);
}

/** The deployment as a ledger value records it (spaces separate its fields, so none inside). */
export const ledgerDeployment = (deployment: string) => tagSafe(deployment).replace(/ /g, '_');

export const isOwn = (entry: LedgerEntry, owner: TargetOwner) => entry.storeId === owner.storeId;
