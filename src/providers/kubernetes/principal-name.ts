import { createHash } from 'node:crypto';
import type { TargetOwner } from '../provider.js';

/** Every ServiceAccount Stint creates is named with this prefix; the annotations are the real mark. */
export const PRINCIPAL_PREFIX = 'stint-';
const MAX_NAME = 63;
const HASH_CHARS = 10;

/** Labels select (a label value holds at most 63 characters of a narrow alphabet); annotations say exactly. */
export const STORE_LABEL = 'stint.dev/store';
export const REQUEST_LABEL = 'stint.dev/request';
export const PRINCIPAL_LABEL = 'stint.dev/principal';
export const STORE_ANNOTATION = 'stint.dev/store';
export const REQUEST_ANNOTATION = 'stint.dev/request';
export const DEPLOYMENT_ANNOTATION = 'stint.dev/deployment';

/**
 * `stint-<request id>`, lowercased, anything outside [a-z0-9-] turned into `-`: a DNS label (what a ServiceAccount
 * name and a label value may be). Deterministic, so a retry after a crash finds what an earlier attempt left; an
 * id too long or ending badly keeps a prefix and gains a hash of the whole id.
 */
export function principalFor(requestId: string): string {
  const name = PRINCIPAL_PREFIX + requestId.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  if (requestId.length > 0 && isPrincipalName(name)) return name;
  const hash = createHash('sha256').update(requestId).digest('hex').slice(0, HASH_CHARS);
  return `${name.slice(0, MAX_NAME - HASH_CHARS - 1).replace(/-+$/, '')}-${hash}`;
}

/** Whether a name could have come from principalFor: revoke refuses to touch anything else. */
export function isPrincipalName(name: string): boolean {
  return (
    name.length <= MAX_NAME &&
    /^stint-([a-z0-9-]*[a-z0-9])?$/.test(name) &&
    name.length > PRINCIPAL_PREFIX.length
  );
}

/** A value as a label can hold it: itself when it fits, else a hash (the annotation keeps it whole). */
export function labelValue(value: string): string {
  if (value.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(value)) return value;
  return `h${createHash('sha256').update(value).digest('hex').slice(0, 40)}`;
}

export interface Mark {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/**
 * What every object Stint creates carries: the store's random id (the claim no other store can make), the request
 * and the principal as labels to select by, and exactly, with the deployment's name, as annotations.
 */
export function markFor(owner: TargetOwner, requestId: string, principal: string): Mark {
  return {
    labels: {
      [STORE_LABEL]: labelValue(owner.storeId),
      [REQUEST_LABEL]: labelValue(requestId),
      [PRINCIPAL_LABEL]: principal,
    },
    annotations: {
      [STORE_ANNOTATION]: owner.storeId,
      [REQUEST_ANNOTATION]: requestId,
      [DEPLOYMENT_ANNOTATION]: owner.deployment,
    },
  };
}

export interface ParsedMark {
  storeId: string;
  requestId: string | null;
  deployment: string | null;
}

/** Who an object's metadata says owns it, or null when Stint did not mark it. */
export function parseMark(
  meta: { annotations?: Record<string, string>; labels?: Record<string, string> } | undefined,
): ParsedMark | null {
  const storeId = meta?.annotations?.[STORE_ANNOTATION];
  if (!storeId || meta?.labels?.[STORE_LABEL] !== labelValue(storeId)) return null;
  return {
    storeId,
    requestId: meta?.annotations?.[REQUEST_ANNOTATION] ?? null,
    deployment: meta?.annotations?.[DEPLOYMENT_ANNOTATION] ?? null,
  };
}

/** The label selector of this store's objects, optionally one principal's. */
export function ownSelector(owner: TargetOwner, principal?: string): string {
  const store = `${STORE_LABEL}=${labelValue(owner.storeId)}`;
  return principal === undefined ? store : `${store},${PRINCIPAL_LABEL}=${principal}`;
}
