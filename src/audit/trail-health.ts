import { StintError } from '../domain/errors.js';
import type { Logger } from '../logger.js';

/**
 * Why the audit trail cannot go on:
 * - `NOT_CONTIGUOUS`: leaves the builder must fold next are missing or out of place (rows deleted or changed);
 * - `ROLLBACK`: the store holds fewer events than a checkpoint already signed (restored from an older backup);
 * - `FORK`: the store's tree disagrees with a checkpoint already signed (rolled back and regrown), or the WORM
 *   folder holds another checkpoint of the size about to be signed;
 * - `FORGED`: a leaf to fold carries no valid MAC by a Stint server (written by someone with store access only).
 */
export type TrailProblemCode = 'NOT_CONTIGUOUS' | 'ROLLBACK' | 'FORK' | 'FORGED';

/** The tree builder found the trail broken: it signs nothing until the cause is gone. */
export class AuditTrailBroken extends Error {
  override readonly name = 'AuditTrailBroken';
  readonly code: TrailProblemCode;
  constructor(code: TrailProblemCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function isAuditTrailBroken(e: unknown): e is AuditTrailBroken {
  return e instanceof AuditTrailBroken;
}

export interface TrailStatus {
  /** Gauge: 1 while the trail is signed as it grows, 0 while it is broken. */
  healthy: boolean;
  code: TrailProblemCode | null;
  message: string | null;
  since: Date | null;
  /** Counter: how many times the trail went from healthy to broken since start. */
  failures: number;
}

/**
 * The trail's health as the builder last saw it. While broken, the server fails closed: not ready, and state
 * changes are refused, because their events could never be signed. Alerts go out once per change of state
 * (an error line when it breaks or the cause changes, an info line when it recovers), not once per build turn.
 */
export function createTrailHealth(logger: Logger) {
  let broken: AuditTrailBroken | null = null;
  let since: Date | null = null;
  let failures = 0;

  return {
    fail(problem: AuditTrailBroken, now: Date): void {
      const changed = broken === null || broken.code !== problem.code;
      if (broken === null) {
        failures++;
        since = now;
      }
      broken = problem;
      if (changed) {
        logger.error(
          { code: problem.code, detail: problem.message },
          `audit trail broken (${problem.code}): signing stopped, state changes refused until fixed`,
        );
      }
    },

    recover(): void {
      if (broken === null) return;
      logger.info({ code: broken.code, since }, 'audit trail recovered: signing and state changes resume');
      broken = null;
      since = null;
    },

    status(): TrailStatus {
      return {
        healthy: broken === null,
        code: broken?.code ?? null,
        message: broken?.message ?? null,
        since,
        failures,
      };
    },

    /** Throws the coded refusal while the trail is broken: for anything that would write an event. */
    assertWritable(): void {
      if (broken) {
        throw new StintError(
          'AUDIT_UNAVAILABLE',
          `the audit trail is broken (${broken.code}): ${broken.message}; state changes are refused until it is fixed`,
        );
      }
    },
  };
}

export type TrailHealth = ReturnType<typeof createTrailHealth>;
