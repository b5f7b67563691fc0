import type { Actor } from '../domain/actor.js';
import type { RequestView } from '../requests/request-types.js';

/** The API's shapes for break-glass: dates as ISO strings, never a secret except the one a take returns. */

export interface InvokeInput {
  resource: string;
  role: string;
  reason: string;
  /** Seconds; absent → the entry's maximum. */
  durationSeconds?: number;
}

export interface InvocationView {
  requestId: string;
  resource: string;
  role: string;
  holder: string;
  /** The break-glass entry of the policy that allowed it. */
  entry: string;
  invokedAt: string;
  /** The seq of its `breakglass.invoked` event: what an acknowledgement names (`details.eventSeq`). */
  invokedSeq: number;
  channels: string[];
  escalateAfterSeconds: number;
  escalationLevel: number;
  acknowledgedAt: string | null;
  drillId: string | null;
  /** The request as it is now (`active` once issued; its credential is taken at /v1/requests/{id}/credentials). */
  request: RequestView;
}

export type SealState = 'active' | 'rotation_required' | 'retired';
export type UnsealState = 'open' | 'done' | 'failed' | 'expired';
export type PostmortemSubject = 'grant' | 'unseal' | 'offline';
export type DrillState = 'running' | 'passed' | 'failed';

export interface SealView {
  id: string;
  scope: string;
  label: string;
  threshold: number;
  officers: string[];
  /** `active`; `rotation_required` once opened (re-seal a rotated secret); `retired` once replaced. */
  state: SealState;
  uses: number;
  rotationReason: string | null;
  createdBy: string;
  createdAt: string;
}

export interface CreateSealInput {
  id: string;
  scope: string;
  label: string;
  threshold: number;
  officers: { user: string; commitment: string }[];
  sealed: string;
  recordKey: string;
}

export type UnsealPurpose = 'use' | 'drill';

export interface UnsealView {
  /** The attempt's id: the nonce shares are given against. */
  id: string;
  sealId: string;
  scope: string;
  label: string;
  purpose: UnsealPurpose;
  openedBy: string;
  reason: string;
  state: UnsealState;
  threshold: number;
  officers: string[];
  /** Officers who gave their share, in order; never the shares. */
  given: string[];
  remaining: number;
  badShares: number;
  openedAt: string;
  expiresAt: string;
  endedAt: string | null;
  /** Done, for use, and not yet taken by the opener. */
  secretReady: boolean;
}

export interface TimelineEntry {
  seq: number;
  at: string;
  actor: string;
  action: string;
}

export const CLASSIFICATIONS = ['drill', 'emergency', 'misuse'] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

export interface PostmortemView {
  id: string;
  /** What was used: `grant` (a break-glass request), `unseal` (online) or `offline` (an offline unseal). */
  subject: PostmortemSubject;
  requestId: string | null;
  sealId: string | null;
  resource: string | null;
  owner: string;
  due: string;
  state: 'open' | 'closed';
  overdue: boolean;
  classification: Classification | null;
  rootCause: string | null;
  followUps: string[];
  /** The audit trail of the use, as recorded. */
  timeline: TimelineEntry[];
  openedAt: string;
  closedAt: string | null;
  closedBy: string | null;
}

export interface FillPostmortemInput {
  owner?: string;
  dueSeconds?: number;
  classification?: Classification;
  rootCause?: string;
  followUps?: string[];
}

export const DRILL_STEPS = [
  'unseal',
  'invoke',
  'credential',
  'channels',
  'revoked',
  'rotated',
  'audit',
] as const;
export type DrillStepName = (typeof DRILL_STEPS)[number];

export interface DrillStep {
  name: DrillStepName;
  state: 'pending' | 'passed' | 'failed' | 'skipped';
  detail: string;
}

export interface DrillView {
  id: string;
  resource: string;
  role: string;
  startedBy: string;
  startedAt: string;
  finishedAt: string | null;
  state: DrillState;
  steps: DrillStep[];
  requestId: string | null;
}

export interface StartDrillInput {
  resource: string;
  role?: string;
  reason?: string;
  /** How long the channels step waits for every channel's acknowledgement (default 120 s). */
  ackTimeoutSeconds?: number;
}

/** Security, auditors and admins read everything break-glass records. */
export const isStaff = (actor: Actor): boolean => actor.security || actor.auditor || actor.admin;
