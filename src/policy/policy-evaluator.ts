import { matchApprovers } from '../domain/approval.js';
import { formatDuration } from '../domain/duration.js';
import { StintError } from '../domain/errors.js';
import type { ApprovalSlot, Tier } from '../domain/request.js';
import type { DirectoryUser, Policy, PolicyDecision, RequestInput, Rule } from './policy-types.js';

/**
 * Policy evaluation: who may ask for what, for how long, with which reason, and who must approve. Pure: the
 * policy and the request in, a decision or a StintError out. Deny by default; the first matching rule in file
 * order wins, so a narrow rule placed before a broad one takes precedence.
 */

function sortedUnique(ids: Iterable<string>): string[] {
  return [...new Set(ids)].sort();
}

/** Whether `user` is named by a rule's `who` (by id or by team), on call or not. */
function isNamed(rule: Rule, user: DirectoryUser): boolean {
  return rule.eligible.users.includes(user.id) || user.teams.some((t) => rule.eligible.teams.includes(t));
}

/** Whether `user` is among the people a rule lets ask (by id or by team, and on call when the rule says). */
export function isEligibleRequester(rule: Rule, user: DirectoryUser): boolean {
  return isNamed(rule, user) && (!rule.eligible.onCall || user.onCall);
}

function coversRole(rule: Rule, resource: string, role: string): boolean {
  return rule.resources.includes(resource) && (rule.roles.includes('*') || rule.roles.includes(role));
}

/** The first rule that lets `user` ask for `role` on `resource`, if any. */
export function findRule(
  policy: Policy,
  user: DirectoryUser,
  resource: string,
  role: string,
): Rule | undefined {
  return policy.rules.find((rule) => coversRole(rule, resource, role) && isEligibleRequester(rule, user));
}

/**
 * Expands tiers into the approvals a request needs, each with who may give it, from the directory as it is
 * now (the slots are frozen onto the request). The requester is never eligible for any slot.
 */
export function approvalSlots(
  users: ReadonlyMap<string, DirectoryUser>,
  requester: DirectoryUser,
  tiers: readonly Tier[],
): ApprovalSlot[] {
  const others = [...users.values()].filter((u) => u.id !== requester.id);
  const security = sortedUnique(others.filter((u) => u.security).map((u) => u.id));
  const slots: ApprovalSlot[] = [];
  for (const tier of tiers) {
    switch (tier) {
      case 'auto':
        break;
      case 'peer':
        slots.push({
          tier,
          label: 'peer',
          eligible: sortedUnique(
            others.filter((u) => u.teams.some((t) => requester.teams.includes(t))).map((u) => u.id),
          ),
        });
        break;
      case 'manager': {
        const manager = requester.manager;
        const eligible = manager !== null && manager !== requester.id && users.has(manager) ? [manager] : [];
        slots.push({ tier, label: 'manager', eligible });
        break;
      }
      case 'security':
        slots.push({ tier, label: 'security reviewer', eligible: security });
        break;
      case 'two-person':
        slots.push({ tier, label: 'security reviewer', eligible: security });
        slots.push({ tier, label: 'second approver', eligible: sortedUnique(others.map((u) => u.id)) });
        break;
    }
  }
  return slots;
}

/**
 * Why these slots can never all be filled, or undefined when they can. A slot nobody may fill is the usual
 * reason; the subtler one is too few distinct people, since one person fills at most one slot.
 */
export function unsatisfiable(requester: DirectoryUser, slots: readonly ApprovalSlot[]): string | undefined {
  const empty = slots.find((s) => s.eligible.length === 0);
  if (empty !== undefined) {
    switch (empty.tier) {
      case 'manager':
        return `${requester.id} has no manager in the directory`;
      case 'peer':
        return `${requester.id} has no teammate in the directory to approve as a peer`;
      case 'security':
      case 'two-person':
        return empty.label === 'security reviewer'
          ? `the directory has no security member other than ${requester.id} to be the security reviewer`
          : `the directory has nobody but ${requester.id} to be the ${empty.label}`;
      default:
        return `nobody may be the ${empty.label}`;
    }
  }
  const everyone = sortedUnique(slots.flatMap((s) => s.eligible));
  if (matchApprovers(slots, everyone).size < slots.length) {
    return `the ${slots.length} approvals needed (${slots.map((s) => s.label).join(', ')}) must come from different people, and the directory does not have enough of them`;
  }
  return undefined;
}

/** Everyone who may approve or deny a request with this decision, sorted. */
export function eligibleApprovers(decision: Pick<PolicyDecision, 'slots'>): string[] {
  return sortedUnique(decision.slots.flatMap((s) => s.eligible));
}

function checkDuration(policy: Policy, rule: Rule, what: string, requested: number | undefined): number {
  const seconds = requested ?? rule.defaultDurationSeconds;
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new StintError('INVALID_DURATION', 'duration must be a whole number of seconds greater than zero');
  }
  if (seconds < rule.minDurationSeconds) {
    throw new StintError(
      'DURATION_TOO_SHORT',
      `${what} may be requested for at least ${formatDuration(rule.minDurationSeconds)} (rule ${rule.id}); asked for ${formatDuration(seconds)}`,
      { minDurationSeconds: rule.minDurationSeconds, requestedSeconds: seconds },
    );
  }
  const cap = Math.min(rule.maxDurationSeconds, policy.settings.hardCapSeconds);
  if (seconds > cap) {
    const source = cap === rule.maxDurationSeconds ? `rule ${rule.id}` : 'the hard cap of this deployment';
    throw new StintError(
      'DURATION_TOO_LONG',
      `${what} may be requested for at most ${formatDuration(cap)} (${source}); asked for ${formatDuration(seconds)}`,
      { maxDurationSeconds: cap, requestedSeconds: seconds },
    );
  }
  return seconds;
}

function checkReason(rule: Rule, reason: string): void {
  const trimmed = reason.trim();
  if (trimmed === '') {
    throw new StintError(
      'TICKET_REQUIRED',
      rule.ticket.required
        ? 'a ticket reference is required as the reason, e.g. --reason INC-1234'
        : 'a reason is required: say why you need access',
    );
  }
  if (rule.ticket.required && rule.ticket.patterns.length > 0) {
    if (!rule.ticket.patterns.some((p) => p.test(trimmed))) {
      // RegExp#source escapes "/" for a literal; show the pattern as the policy author wrote it.
      const forms = rule.ticket.patterns.map((p) => p.source.replaceAll('\\/', '/'));
      throw new StintError(
        'TICKET_MALFORMED',
        `the reason must be a ticket reference in one of these forms: ${forms.join(', ')}`,
        { patterns: forms },
      );
    }
  }
}

/**
 * `checkReason: false` is for a preview asked before the reason is typed: everything else is decided as a
 * request would be, so the form can say which approval it will need while the person is still filling it in.
 */
export function evaluateRequest(
  policy: Policy,
  input: RequestInput,
  options: { checkReason?: boolean } = {},
): PolicyDecision {
  const requester = policy.users.get(input.requester);
  if (requester === undefined) {
    throw new StintError('UNKNOWN_USER', `${input.requester} is not in the directory`);
  }
  const resource = policy.resources.get(input.resource);
  if (resource === undefined) {
    throw new StintError('UNKNOWN_RESOURCE', `there is no resource named ${input.resource}`);
  }
  // hasOwn: a role named like an Object.prototype member (`constructor`) must not be found by inheritance.
  if (!Object.hasOwn(resource.roles, input.role)) {
    throw new StintError(
      'UNKNOWN_ROLE',
      `${resource.id} has no role ${input.role} (roles: ${Object.keys(resource.roles).join(', ')})`,
    );
  }
  const what = `${resource.id}/${input.role}`;
  const rule = findRule(policy, requester, resource.id, input.role);
  if (rule === undefined) {
    // Say so when being on call is all that is missing: the person can page in or ask whoever is on call.
    const offCall = policy.rules.find(
      (r) => r.eligible.onCall && coversRole(r, resource.id, input.role) && isNamed(r, requester),
    );
    throw new StintError(
      'NOT_ELIGIBLE',
      offCall === undefined
        ? `no policy rule lets ${requester.id} request ${what}`
        : `rule ${offCall.id} lets only people on call request ${what}, and ${requester.id} is not on call`,
      offCall === undefined ? undefined : { ruleId: offCall.id, onCall: false },
    );
  }
  const durationSeconds = checkDuration(policy, rule, what, input.durationSeconds);
  if (options.checkReason !== false) checkReason(rule, input.reason);

  const slots = approvalSlots(policy.users, requester, rule.approval);
  const impossible = unsatisfiable(requester, slots);
  if (impossible !== undefined) {
    throw new StintError(
      'NOT_ELIGIBLE',
      `${what} could never be approved under rule ${rule.id}: ${impossible}`,
      {
        ruleId: rule.id,
      },
    );
  }
  return {
    ruleId: rule.id,
    policyVersion: policy.version,
    tiers: [...rule.approval],
    slots,
    durationSeconds,
    maxDurationSeconds: Math.min(rule.maxDurationSeconds, policy.settings.hardCapSeconds),
  };
}
