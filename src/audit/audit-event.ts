import { canonicalize } from './log/jcs.js';

/**
 * The canonical audit event: the exact JSON (RFC 8785) that is hashed into the audit log's leaf, so anyone with
 * the export can recompute it. Its shape is documented in docs/audit.md for SIEM ingestion.
 */
export interface AuditEventBody {
  v: 1;
  /** Leaf index in the log, inside the hashed data so reordering rows cannot go unnoticed. */
  seq: number;
  id: string;
  time: string;
  actor: string;
  action: string;
  result: 'success' | 'failure';
  requestId: string | null;
  target: { resource?: string; role?: string; principal?: string } | null;
  reason: string | null;
  /** `via: 'host-session'` (and its id) when the actor used a session an operator made on the server host. */
  source: { ip: string | null; userAgent: string | null; via?: 'host-session'; hostSession?: string } | null;
  details: Record<string, unknown>;
}

/** Actions that record something failing rather than something done. */
const FAILURES = new Set([
  'request.failed',
  'grant.revocation_failed',
  'grant.revocation_abandoned',
  'grant.revocation_overdue',
  'grant.expired_late',
  'auth.failed',
  'mfa.failed',
  // break-glass (src/breakglass): refusals, a seal that would not open, a forged offline record, a failed drill
  'breakglass.refused',
  'breakglass.share_refused',
  'breakglass.unseal_failed',
  'breakglass.offline_record_refused',
  'breakglass.rotation_failed',
  'postmortem.overdue',
  'drill.failed',
]);

export function resultOf(action: string): 'success' | 'failure' {
  return FAILURES.has(action) ? 'failure' : 'success';
}

export function encodeEvent(body: AuditEventBody): string {
  return canonicalize(body);
}
