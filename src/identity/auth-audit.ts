import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { AuditWriter } from '../audit/audit-writer.js';
import type { Database } from '../store/schema.js';

export interface AuthSource {
  ip: string | null;
  userAgent: string | null;
  /** Set when the call came with a session an operator made on the server host, with that session's id. */
  via?: 'host-session';
  hostSession?: string;
}

export const sourceOf = (request: FastifyRequest): AuthSource => ({
  ip: request.ip ?? null,
  userAgent: request.headers['user-agent'] ?? null,
});

export interface AuthEvent {
  at: Date;
  /** Who it was, when known: the user a revoked token belonged to, the person a sign-in matched. */
  userId: string | null;
  /** api-token | session | cookie | oidc | cli */
  method: string;
  /** The session or token id (never its secret). */
  id: string | null;
  source: AuthSource;
}

/**
 * `auth.succeeded` for every sign-in (portal or CLI) and `auth.failed` for every credential or sign-in refused.
 * Details hold facts only: the method, a reason code, the credential's id; never the token, code or ID token.
 */
export function createAuthAudit(db: Kysely<Database>, audit: AuditWriter) {
  const record = (action: string, e: AuthEvent, details: Record<string, unknown>) =>
    audit.append(db, {
      at: e.at,
      actor: e.userId ?? 'anonymous',
      action,
      requestId: null,
      source: e.source,
      details: { method: e.method, ...(e.id ? { id: e.id } : {}), ...details },
    });
  return {
    succeeded: (e: AuthEvent & { subject?: string; mfa: boolean }) =>
      record('auth.succeeded', e, { mfa: e.mfa, ...(e.subject ? { subject: e.subject } : {}) }),
    failed: (e: AuthEvent & { reason: string }) => record('auth.failed', e, { reason: e.reason }),
  };
}

export type AuthAudit = ReturnType<typeof createAuthAudit>;
