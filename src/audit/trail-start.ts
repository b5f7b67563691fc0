import { StintError } from '../domain/errors.js';
import type { AuditLog } from './audit-log.js';
import { isAuditTrailBroken } from './trail-health.js';

/**
 * Before serving: the store must hold at least the newest checkpoint known to be signed (the WORM folder's),
 * with the same root. A store rolled back or forked stops the start with both sizes named; serving it would
 * sign a history that contradicts the copies auditors hold. Missing rows only make the server fail closed (it
 * starts, not ready), so the operator can still read and verify the trail while restoring them.
 */
export async function checkTrailAtStart(log: Pick<AuditLog, 'build'>): Promise<void> {
  try {
    await log.build({ wait: true });
  } catch (e) {
    if (!isAuditTrailBroken(e)) throw e;
    if (e.code === 'NOT_CONTIGUOUS') return;
    throw new StintError('AUDIT_UNAVAILABLE', `refusing to start: ${e.message} (${e.code})`);
  }
}
