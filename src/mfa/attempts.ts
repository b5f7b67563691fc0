import type { Kysely, Transaction } from 'kysely';
import type { AuditWriter } from '../audit/audit-writer.js';
import type { Actor } from '../domain/actor.js';
import type { Clock } from '../domain/clock.js';
import { type ErrorCode, StintError } from '../domain/errors.js';
import { createAttemptLimit } from '../store/attempt-limit.js';
import type { StintDatabase } from '../store/database.js';
import type { Database } from '../store/schema.js';
import type { MfaMethod } from './mfa-store.js';

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

/** One second-factor attempt, counted before its code or response is checked. */
export interface MfaAttempt {
  /** It did not count (the factor was right, or there was nothing to guess at): with `db`, in that transaction. */
  release(db?: Db): Promise<void>;
  /** It stays counted: audits the failure, then throws the error the user sees. */
  fail(
    details: MfaAuditDetails & { reason: string },
    code: Extract<ErrorCode, 'MFA_INVALID' | 'MFA_REPLAYED'>,
    message: string,
  ): Promise<never>;
}

/**
 * Second-factor attempts, per user, in the store (so every server sharing it counts them). Each is counted
 * before its code is checked, atomically (store/attempt-limit.ts): past the limit no code is even checked until
 * the oldest failure leaves the window, however many arrive at once. Every failure is an audit event.
 */
export function createAttempts(deps: {
  store: Pick<StintDatabase, 'db' | 'traits'>;
  audit: AuditWriter;
  clock: Clock;
  limit: RateLimit;
}) {
  const { db } = deps.store;
  const counted = createAttemptLimit(deps.store, {
    max: deps.limit.maxFailures,
    windowMs: deps.limit.windowSeconds * 1000,
  });
  return {
    async begin(actor: Actor, method: MfaMethod, stage: string): Promise<MfaAttempt> {
      const now = deps.clock();
      const reserved = await counted.reserve(`mfa:${actor.userId}`, now);
      if (!reserved.ok) {
        const retryAfterSeconds = Math.max(1, Math.ceil((reserved.retryAt.getTime() - now.getTime()) / 1000));
        await deps.audit.append(
          db,
          mfaEvent(actor, now, 'mfa.failed', { method, stage, reason: 'rate-limited' }),
        );
        throw new StintError(
          'MFA_RATE_LIMITED',
          `too many wrong second-factor attempts: try again in ${retryAfterSeconds}s`,
          { retryAfterSeconds },
        );
      }
      const { attempt } = reserved;
      return {
        release: (trx) => attempt.release(trx),
        async fail(details, code, message) {
          await deps.audit.append(db, mfaEvent(actor, deps.clock(), 'mfa.failed', details));
          throw new StintError(code, message);
        },
      };
    },
  };
}

export type Attempts = ReturnType<typeof createAttempts>;
