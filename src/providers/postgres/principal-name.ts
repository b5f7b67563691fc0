import { createHash } from 'node:crypto';

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

const DEPLOYMENT_MARK = ';deployment=';

/**
 * `stint:request=<id>;deployment=<name>`. The deployment lets several Stint deployments (staging and production
 * Stint, say) share one database cluster: each reconciles only what it created itself.
 */
export function commentFor(requestId: string, deployment: string): string {
  return `${COMMENT_PREFIX}${requestId}${DEPLOYMENT_MARK}${deployment}`;
}

/** What a role comment records, or null when the comment is not Stint's. */
export function parseComment(
  comment: string | null | undefined,
): { requestId: string; deployment: string | null } | null {
  if (!comment?.startsWith(COMMENT_PREFIX)) return null;
  const body = comment.slice(COMMENT_PREFIX.length);
  const at = body.indexOf(DEPLOYMENT_MARK);
  return at < 0
    ? { requestId: body, deployment: null }
    : { requestId: body.slice(0, at), deployment: body.slice(at + DEPLOYMENT_MARK.length) };
}

/** The request id a role comment records, or null when the comment is not Stint's. */
export function requestIdFromComment(comment: string | null | undefined): string | null {
  return parseComment(comment)?.requestId ?? null;
}
