import type { ReviewDecision } from '../domain/request.js';
import type { Sensitivity } from '../policy/policy-types.js';

/**
 * Which reviews need a fresh second factor, and the words MFA_REQUIRED uses for it: approving access to a
 * sensitive or critical resource. Denying never does (it only takes access away). A resource the current policy
 * no longer knows is treated as critical: failing closed. Pure.
 */
export function approvalStepUpReason(
  sensitivity: Sensitivity | undefined,
  decision: ReviewDecision,
): string | null {
  if (decision !== 'approve') return null;
  if (sensitivity === 'routine') return null;
  return `approving a ${sensitivity ?? 'critical'} request`;
}
