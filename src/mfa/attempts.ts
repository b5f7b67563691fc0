import type { Kysely, Transaction } from 'kysely';
import { appendAudit } from '../audit/audit-store.js';
import type { Actor } from '../domain/actor.js';
import type { Clock } from '../domain/clock.js';
import { type ErrorCode, StintError } from '../domain/errors.js';
import type { Database } from '../store/schema.js';
import { type MfaMethod, mfaStore } from './mfa-store.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface RateLimit {
  maxFailures: number;
  windowSeconds: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { maxFailures: 5, windowSeconds: 300 };

/** What the audit trail says about one MFA event: the method and what happened, never a code or a secret. */
export type MfaAuditDetails = {
  method: MfaMethod;
  stage: string;
  reason?: string;
  authenticatorId?: string;
  /** Who must be told of this event: the outbox a notify module reads is the audit trail. */
  notify?: string[];
};

export function mfaEvent(actor: Actor, at: Date, action: string, details: MfaAuditDetails) {
  return {
    at,
    actor: actor.userId,
    action,
    requestId: null,
    details,
    ...(actor.source ? { source: actor.source } : {}),
  };
}

/**
 * Failed second-factor attempts, per user, in the store (so every server sharing it counts them): past the limit
 * no code is even checked until the oldest failure leaves the window. Every failure is an audit event.
 */
export function createAttempts(deps: { db: Kysely<Database>; clock: Clock; limit: RateLimit }) {
  const { db, limit } = deps;
  return {
    async guard(actor: Actor, method: MfaMethod, stage: string): Promise<void> {
      const now = deps.clock();
      const since = new Date(now.getTime() - limit.windowSeconds * 1000);
      const { count, oldest } = await mfaStore.countFailures(db, actor.userId, since);
      if (count < limit.maxFailures) return;
      const retryAfterSeconds = Math.max(
        1,
        Math.ceil(((oldest ?? now).getTime() + limit.windowSeconds * 1000 - now.getTime()) / 1000),
      );
      await appendAudit(db, mfaEvent(actor, now, 'mfa.failed', { method, stage, reason: 'rate-limited' }));
      throw new StintError(
        'MFA_RATE_LIMITED',
        `too many wrong second-factor attempts: try again in ${retryAfterSeconds}s`,
        { retryAfterSeconds },
      );
    },

    /** Records the failure and its audit event together, then throws the error the user sees. */
    async fail(
      actor: Actor,
      details: MfaAuditDetails & { reason: string },
      code: Extract<ErrorCode, 'MFA_INVALID' | 'MFA_REPLAYED'>,
      message: string,
    ): Promise<never> {
      const now = deps.clock();
      await db.transaction().execute(async (trx: Db) => {
        await mfaStore.pruneFailures(trx, new Date(now.getTime() - limit.windowSeconds * 1000));
        await mfaStore.addFailure(trx, actor.userId, details.method, now);
        await appendAudit(trx, mfaEvent(actor, now, 'mfa.failed', details));
      });
      throw new StintError(code, message);
    },
  };
}

export type Attempts = ReturnType<typeof createAttempts>;
