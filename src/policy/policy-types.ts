import type { z } from 'zod';
import type { ApprovalSlot, Tier } from '../domain/request.js';
import type { NotificationsPolicy } from './notifications-types.js';

/** A person in the directory. SSO and SCIM replace the YAML directory later; the shape stays. */
export interface DirectoryUser {
  id: string;
  email: string;
  name: string;
  manager: string | null;
  teams: string[];
  /** Member of the security team: may fill security slots and revoke any grant. */
  security: boolean;
  /** Configuration only: an admin cannot approve their own elevation nor read others' credentials. */
  admin: boolean;
  /** Read-only access to requests and the audit trail. */
  auditor: boolean;
  /** On call now (a directory fact: the on-call group, or `onCall: true` in the YAML). Rules may require it. */
  onCall: boolean;
}

export const SENSITIVITIES = ['routine', 'sensitive', 'critical'] as const;
export type Sensitivity = (typeof SENSITIVITIES)[number];

/** Where a resource's admin connection comes from. Never a secret inline in the policy. */
export type ConnectionRef = { env: string } | { file: string };

export interface ResourceRole {
  name: string;
  description: string;
  /** What the role grants on the target, as its kind names it (PostgreSQL roles, policies, ARNs). */
  grants: string[];
}

export interface Resource {
  id: string;
  /** A target kind the server knows; checked at load against the kinds it was given. */
  kind: string;
  description: string;
  sensitivity: Sensitivity;
  /** Null where the kind has a default credential chain and the policy gives none. */
  connection: ConnectionRef | null;
  /** The resource's `options` block as its kind's schema parsed it (`{}` or the kind's default when absent). */
  options: unknown;
  roles: Record<string, ResourceRole>;
}

/**
 * What the policy needs to know of a target kind to check a resource of it: the shape of its `options` and of
 * its roles' `grants`, and whether `connection` may be left out. A provider kind's descriptor is one; the policy
 * never imports providers, the composition root hands the list in.
 */
export interface PolicyKind {
  kind: string;
  options: z.ZodType;
  grants: z.ZodType<string[]>;
  connection: 'required' | 'optional';
}

export interface TicketRule {
  required: boolean;
  /** Anchored regular expressions, compiled at load time. The reason must match one when a ticket is required. */
  patterns: RegExp[];
}

export interface Rule {
  id: string;
  description: string;
  resources: string[];
  /** `*` allowed to mean every role of the listed resources. */
  roles: string[];
  /**
   * Who may ask: users by id and/or members of teams. Empty both → nobody (deny by default). With `onCall`,
   * only those of them who are on call now.
   */
  eligible: { users: string[]; teams: string[]; onCall: boolean };
  /** Shortest window one may ask for: the rule's own, else settings.minDuration. */
  minDurationSeconds: number;
  defaultDurationSeconds: number;
  maxDurationSeconds: number;
  ticket: TicketRule;
  /** All tiers must be satisfied. `['auto']` alone means approved at once. */
  approval: Tier[];
}

/**
 * One `breakglass:` entry: who may invoke emergency access to a set of resources without approval, for how long
 * at most, whom it alerts, and how it is followed up (escalation, postmortem, drills). See docs/breakglass.md.
 */
export interface BreakglassEntry {
  id: string;
  description: string;
  resources: string[];
  /** `*` for every role of the listed resources. */
  roles: string[];
  eligible: { users: string[]; teams: string[] };
  maxDurationSeconds: number;
  /** Channel names of the notifications block, alerted by `breakglass.invoked`. */
  channels: string[];
  /** Nobody acknowledged the alert within this: `breakglass.escalated`, again each time it passes. */
  escalateAfterSeconds: number;
  /** A passing drill must exist within this (365 days by default, 90 at the least). */
  drillEverySeconds: number;
  /** Who owns the postmortem after a use (null: whoever invoked), and within how long it is due. */
  postmortem: { owner: string | null; dueSeconds: number };
}

export interface PolicySettings {
  /** Names this deployment (audit, checkpoints). */
  deployment: string;
  /** No rule may allow longer than this. */
  hardCapSeconds: number;
  /** A pending request not approved within this times out. */
  pendingTimeoutSeconds: number;
  /** Shortest window a rule allows unless it sets its own `duration.min`. */
  minDurationSeconds: number;
  /**
   * Start even when a target holds roles another Stint store tagged with this deployment's name. Each store
   * still reconciles only its own roles; the refusal only guards against a name collision nobody intended.
   */
  allowSharedDeploymentName: boolean;
}

export interface Policy {
  /** Content hash of the policy source: stored on each request. */
  version: string;
  source: string;
  settings: PolicySettings;
  users: Map<string, DirectoryUser>;
  resources: Map<string, Resource>;
  rules: Rule[];
  /** The `notifications:` block; absent, nobody is notified of anything. */
  notifications?: NotificationsPolicy;
  /**
   * Emergency access without approval (src/breakglass); absent or empty: nobody may break glass. Optional so
   * that a policy built by hand (tests, tools) need not name it.
   */
  breakglass?: BreakglassEntry[];
  /**
   * Legal but probably unintended, located like problems: e.g. a manager-tier rule open to someone without a
   * manager (their requests are refused at request time). For `stint policy check` and the boot log.
   */
  notes: PolicyProblem[];
}

/** What policy decides for one request; frozen onto the request when it is created. */
export interface PolicyDecision {
  ruleId: string;
  policyVersion: string;
  tiers: Tier[];
  slots: ApprovalSlot[];
  durationSeconds: number;
  maxDurationSeconds: number;
}

export interface RequestInput {
  requester: string;
  resource: string;
  role: string;
  reason: string;
  /** Absent → the rule's default duration. */
  durationSeconds?: number;
}

/** One problem in a policy file, located for a human to fix. */
export interface PolicyProblem {
  file: string;
  line: number;
  column: number;
  /** Dotted path of the field, e.g. `rules[2].duration.max`. */
  field: string;
  message: string;
}
