import type { Actor } from '../domain/actor.js';
import { isApproverOf } from '../domain/eligibility.js';
import { StintError } from '../domain/errors.js';
import type { AccessRequest } from '../domain/request.js';

/**
 * The one policy point for who may do what. Deny by default: an action not listed here is refused. Anything in
 * another user's scope answers "not found", so ids cannot be probed. What a scoped token may call is decided
 * per route, before this, in route-access.ts.
 */
export type Action =
  | 'request.create'
  | 'request.read'
  | 'request.review'
  | 'request.withdraw'
  | 'request.revoke'
  | 'request.list-all'
  | 'credential.take'
  | 'audit.read-all'
  | 'audit.sign-checkpoint'
  | 'audit.verify'
  | 'resource.list'
  | 'whoami'
  | 'token.manage'
  | 'token.manage-all'
  | 'metrics.read'
  | 'report.read';

const canRead = (actor: Actor, r: AccessRequest) =>
  r.requester === actor.userId ||
  isApproverOf(r, actor.userId) ||
  actor.security ||
  actor.auditor ||
  actor.admin;

type Rule = (actor: Actor, r: AccessRequest | undefined) => boolean;

const RULES: Record<Action, Rule> = {
  'request.create': () => true, // who may ask for what is the policy's decision, per rule
  'resource.list': () => true,
  whoami: () => true,
  'request.list-all': (a) => a.security || a.auditor || a.admin,
  'audit.read-all': (a) => a.security || a.auditor || a.admin,
  // Auditors change nothing: signing and storing a new checkpoint is for security and admins.
  'audit.sign-checkpoint': (a) => a.security || a.admin,
  // Read-only, but a whole-trail recompute: the route bounds how often (audit-log-routes.ts).
  'audit.verify': (a) => a.security || a.auditor || a.admin,
  'request.read': (a, r) => r !== undefined && canRead(a, r),
  // Reviewing needs eligibility; the state machine says precisely why someone is not (self, not an approver).
  'request.review': (a, r) => r !== undefined && canRead(a, r),
  'request.withdraw': (a, r) => r !== undefined && r.requester === a.userId,
  'request.revoke': (a, r) =>
    r !== undefined && (r.requester === a.userId || isApproverOf(r, a.userId) || a.security || a.admin),
  // Credentials go to the requester alone: not to approvers, security or admins.
  'credential.take': (a, r) => r !== undefined && r.requester === a.userId,
  // Tokens: everyone manages their own; only an admin sees and revokes everyone's.
  'token.manage': () => true,
  'token.manage-all': (a) => a.admin,
  // Operations: counts and durations (names of resources, never of people or secrets) for whoever runs Stint.
  'metrics.read': (a) => a.security || a.auditor || a.admin,
  // Approval times per approver, denials, break-glass uses: for those who review how access is given.
  'report.read': (a) => a.security || a.auditor || a.admin,
};

export function can(actor: Actor, action: Action, request?: AccessRequest): boolean {
  const rule = RULES[action];
  return rule?.(actor, request) === true;
}

export function authorize(actor: Actor, action: Action, request?: AccessRequest): void {
  if (can(actor, action, request)) return;
  if (request && !canRead(actor, request)) {
    throw new StintError('REQUEST_NOT_FOUND', `request ${request.id} not found`);
  }
  throw new StintError('FORBIDDEN', `${actor.userId} may not ${describe(action, request?.id)}`);
}

/** What each action is, in words, for refusals people read: "bob may not take the credential of req_…". */
const WORDS: Record<Action, (id: string) => string> = {
  'request.create': () => 'create requests',
  'request.read': (id) => `read ${id}`,
  'request.review': (id) => `review ${id}`,
  'request.withdraw': (id) => `withdraw ${id}`,
  'request.revoke': (id) => `revoke ${id}`,
  'request.list-all': () => 'list everyone’s requests',
  'credential.take': (id) => `take the credential of ${id}`,
  'audit.read-all': () => 'read everyone’s audit events',
  'audit.sign-checkpoint': () => 'sign and store audit checkpoints',
  'audit.verify': () => 'verify the whole audit trail',
  'resource.list': () => 'list resources',
  whoami: () => 'ask who they are',
  'token.manage': () => 'manage API tokens',
  'token.manage-all': () => 'manage other people’s API tokens',
  'metrics.read': () => 'read the operations metrics',
  'report.read': () => 'read the access report',
};

function describe(action: Action, requestId: string | undefined): string {
  return WORDS[action](requestId ?? 'this request');
}
