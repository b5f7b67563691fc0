import { createHash } from 'node:crypto';
import type { TargetOwner } from '../provider.js';

/** Every login role Stint creates starts with this; `stint_admin` does too, so the comment is the real mark. */
export const PRINCIPAL_PREFIX = 'stint_';
/** Role comment Stint writes on what it creates: ownership mark and the request it belongs to. */
export const COMMENT_PREFIX = 'stint:request=';

/** PostgreSQL truncates identifiers past NAMEDATALEN - 1 bytes; a truncated name would not be the one we asked for. */
const MAX_IDENTIFIER_BYTES = 63;
const HASH_CHARS = 10;

/**
 * `stint_<request id>`, lowercased, anything outside [a-z0-9_] turned into `_`. Deterministic, so a retry after a
 * crash finds what the earlier attempt left. An id too long to fit keeps a prefix and gains a hash of the whole
 * id, so two long ids sharing a prefix still get distinct names.
 */
export function principalFor(requestId: string): string {
  const name = PRINCIPAL_PREFIX + requestId.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  if (requestId.length > 0 && name.length <= MAX_IDENTIFIER_BYTES) return name;
  const hash = createHash('sha256').update(requestId).digest('hex').slice(0, HASH_CHARS);
  return `${name.slice(0, MAX_IDENTIFIER_BYTES - HASH_CHARS - 1)}_${hash}`;
}

/** Whether a name could have come from principalFor: revoke refuses to touch anything else. */
export function isPrincipalName(name: string): boolean {
  return name.length <= MAX_IDENTIFIER_BYTES && /^stint_[a-z0-9_]+$/.test(name);
}

const DEPLOYMENT_KEY = 'deployment';
const STORE_KEY = 'store';

/**
 * `stint:request=<id>;deployment=<name>;store=<store id>`. The store id (random, made with the store) is what
 * ownership rests on: two deployments sharing a human name, or one cluster, never take each other's roles for
 * their own. The deployment name is there for people reading the catalog.
 */
export function commentFor(requestId: string, owner: TargetOwner): string {
  return `${COMMENT_PREFIX}${requestId};${DEPLOYMENT_KEY}=${owner.deployment};${STORE_KEY}=${owner.storeId}`;
}

/** Who a tag says owns a role. Tags written before store ids existed carry no store (and older ones no name). */
export interface ParsedComment {
  requestId: string;
  deployment: string | null;
  storeId: string | null;
}

/** What a role comment records, or null when the comment is not Stint's. */
export function parseComment(comment: string | null | undefined): ParsedComment | null {
  if (!comment?.startsWith(COMMENT_PREFIX)) return null;
  const [requestId = '', ...fields] = comment.slice(COMMENT_PREFIX.length).split(';');
  const parsed: ParsedComment = { requestId, deployment: null, storeId: null };
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq < 0) continue;
    const key = field.slice(0, eq);
    const value = field.slice(eq + 1);
    if (key === DEPLOYMENT_KEY) parsed.deployment = value;
    else if (key === STORE_KEY) parsed.storeId = value;
  }
  return parsed;
}
