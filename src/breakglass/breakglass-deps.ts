import type { Actor } from '../domain/actor.js';
import type { Issuer } from '../grants/issuer.js';
import type { WorkflowDeps } from '../grants/workflow-deps.js';
import type { StepUp } from '../mfa/step-up.js';
import type { BreakglassConfig } from './breakglass-config.js';

/** What break-glass is built from: the shared workflow parts, and the narrow calls it makes of other capabilities. */
export interface BreakglassDeps
  extends Pick<
    WorkflowDeps,
    'store' | 'requests' | 'grants' | 'audit' | 'policy' | 'providers' | 'secrets' | 'clock' | 'logger'
  > {
  /** A fresh second factor: for invoking, sealing, opening and giving a share. */
  stepUp: Pick<StepUp, 'require'>;
  /** Issues the invoked request at once, through the grants capability (the credential lands on the target). */
  issuer: Pick<Issuer, 'issueClaimed'>;
  /** Throws while the audit trail is broken: no break-glass whose alert could never be signed. */
  assertAuditWritable(): void;
  /** Ends a grant as a person would (the request workflow's revoke: Stint first, then the target). */
  revokeRequest(actor: Actor, requestId: string, comment: string): Promise<unknown>;
  /** Signs a checkpoint and verifies the whole trail (the drill's audit step). */
  verifyAudit(): Promise<{ ok: boolean; detail: string }>;
  config?: BreakglassConfig;
}
