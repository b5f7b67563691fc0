import { formatDuration } from '../domain/duration.js';
import { DEFAULT_SETTINGS, unique } from './policy-build.js';
import { approvalSlots, isEligibleRequester, unsatisfiable } from './policy-evaluator.js';
import type { PolicyFile } from './policy-schema.js';
import type { Policy, PolicyProblem, Resource, Rule } from './policy-types.js';
import type { Path, YamlSource } from './yaml-source.js';

/**
 * The checks that need more than one field to judge a policy: ids unique, every name referring to something
 * that exists, durations within each other and the cap, approval tiers that can be met. A problem refuses the
 * policy; a note (legal, but probably not meant) does not. Each is located to the field it is about.
 */

/** How many requesters a note about one rule names before it summarises. */
const NOTE_LIMIT = 5;

/** Collects located findings; a problem refuses the policy, a note does not. */
interface Findings {
  source: YamlSource;
  policy: Policy;
  problems: PolicyProblem[];
  notes: PolicyProblem[];
}

function fail(f: Findings, path: Path, message: string): void {
  f.problems.push(f.source.problem(path, message));
}

function note(f: Findings, path: Path, message: string): void {
  f.notes.push(f.source.problem(path, message));
}

/** Flags every repeat of a key at its own place, naming the line of the first. */
function noDuplicates(f: Findings, section: string, field: string, what: string, keys: string[]): void {
  const first = new Map<string, number>();
  keys.forEach((key, i) => {
    const seen = first.get(key);
    if (seen === undefined) {
      first.set(key, i);
      return;
    }
    const { line } = f.source.position([section, seen, field]);
    fail(f, [section, i, field], `duplicate ${what} "${key}" (first at line ${line})`);
  });
}

function checkDirectory(f: Findings, file: PolicyFile): void {
  const ids: [section: string, field: string, what: string, keys: string[]][] = [
    ['users', 'id', 'user id', file.users.map((u) => u.id)],
    // Emails identify people to SSO later: two users with one address would be one person with two ids.
    ['users', 'email', 'email', file.users.map((u) => u.email.toLowerCase())],
    ['resources', 'id', 'resource id', file.resources.map((r) => r.id)],
    ['rules', 'id', 'rule id', file.rules.map((r) => r.id)],
  ];
  for (const [section, field, what, keys] of ids) noDuplicates(f, section, field, what, keys);

  file.users.forEach((u, i) => {
    if (u.manager == null) return;
    if (u.manager === u.id) fail(f, ['users', i, 'manager'], `${u.id} cannot be their own manager`);
    else if (!f.policy.users.has(u.manager)) fail(f, ['users', i, 'manager'], `unknown user "${u.manager}"`);
  });
}

type RuleEntry = PolicyFile['rules'][number];

/** Resources, roles and who: every name must exist. Returns the rule's resources that do. */
function checkReferences(f: Findings, rule: RuleEntry, at: (...path: Path) => Path): Resource[] {
  const known: Resource[] = [];
  rule.resources.forEach((id, j) => {
    const resource = f.policy.resources.get(id);
    if (resource === undefined) fail(f, at('resources', j), `unknown resource "${id}"`);
    else known.push(resource);
  });

  rule.roles.forEach((role, j) => {
    if (role === '*') {
      if (rule.roles.length > 1) fail(f, at('roles', j), '"*" already means every role: list it alone');
      return;
    }
    for (const resource of unique(known)) {
      if (!Object.hasOwn(resource.roles, role)) {
        fail(f, at('roles', j), `resource "${resource.id}" has no role "${role}"`);
      }
    }
  });

  if (rule.who.teams.length === 0 && rule.who.users.length === 0) {
    fail(f, at('who'), 'name at least one team or user who may ask');
  }
  rule.who.users.forEach((id, j) => {
    if (!f.policy.users.has(id)) fail(f, at('who', 'users', j), `unknown user "${id}"`);
  });
  // Teams exist only through their members; an empty one is likely a typo, but failing safe (nobody matches).
  const teams = new Set([...f.policy.users.values()].flatMap((u) => u.teams));
  rule.who.teams.forEach((team, j) => {
    if (!teams.has(team)) note(f, at('who', 'teams', j), `no user is in team "${team}"`);
  });
  return known;
}

function checkLimits(f: Findings, rule: RuleEntry, at: (...path: Path) => Path): void {
  const { default: byDefault, max } = rule.duration;
  const cap = f.policy.settings.hardCapSeconds;
  const min = rule.duration.min ?? f.policy.settings.minDurationSeconds;
  if (min > byDefault) {
    fail(
      f,
      rule.duration.min === undefined ? at('duration', 'default') : at('duration', 'min'),
      rule.duration.min === undefined
        ? `default ${formatDuration(byDefault)} is shorter than settings.minDuration ${formatDuration(min)} (set duration.min to allow it)`
        : `min ${formatDuration(min)} is longer than default ${formatDuration(byDefault)}`,
    );
  }
  if (byDefault > max) {
    fail(
      f,
      at('duration', 'default'),
      `default ${formatDuration(byDefault)} is longer than max ${formatDuration(max)}`,
    );
  }
  if (max > cap) {
    fail(
      f,
      at('duration', 'max'),
      `max ${formatDuration(max)} exceeds settings.hardCap ${formatDuration(cap)}`,
    );
  }
  if (rule.ticket?.required && rule.ticket.patterns.length === 0) {
    fail(f, at('ticket', 'patterns'), 'a required ticket needs at least one pattern the reason must match');
  }
  if (rule.ticket && !rule.ticket.required && rule.ticket.patterns.length > 0) {
    fail(f, at('ticket', 'patterns'), 'patterns are only checked when required is true');
  }
}

function checkApproval(
  f: Findings,
  rule: RuleEntry,
  resources: Resource[],
  at: (...path: Path) => Path,
): void {
  const seen = new Set<string>();
  rule.approval.forEach((tier, j) => {
    // A tier twice would ask the same people twice, and one person fills one slot: it could never pass.
    if (seen.has(tier)) fail(f, at('approval', j), `tier "${tier}" is listed twice`);
    seen.add(tier);
  });
  if (!rule.approval.includes('auto')) return;
  if (rule.approval.length > 1) {
    fail(
      f,
      at('approval'),
      '"auto" approves at once, so it must stand alone: remove the other tiers or auto',
    );
  }
  for (const resource of resources.filter((r) => r.sensitivity === 'critical')) {
    fail(f, at('approval'), `auto approval is refused for critical resource "${resource.id}"`);
  }
}

/** Legal, but someone the rule lets ask could never be approved: their requests are refused at request time. */
function noteUnapprovable(f: Findings, rule: Rule, at: (...path: Path) => Path): void {
  const { users } = f.policy;
  const stuck: string[] = [];
  for (const user of users.values()) {
    if (!isEligibleRequester(rule, user)) continue;
    const why = unsatisfiable(user, approvalSlots(users, user, rule.approval));
    if (why !== undefined) stuck.push(why);
  }
  for (const why of stuck.slice(0, NOTE_LIMIT)) {
    note(f, at('approval'), `a request under this rule will be refused: ${why}`);
  }
  if (stuck.length > NOTE_LIMIT) {
    note(
      f,
      at('approval'),
      `…and ${stuck.length - NOTE_LIMIT} more eligible requesters could never be approved`,
    );
  }
}

/** Everything that needs more than one field to judge. `policy` is `file` built, used only to judge it. */
export function crossCheck(file: PolicyFile, policy: Policy, source: YamlSource): Findings {
  const f: Findings = { source, policy, problems: [], notes: [] };
  checkDirectory(f, file);

  const hardCap = file.settings?.hardCap;
  if (hardCap !== undefined && hardCap > DEFAULT_SETTINGS.hardCapSeconds) {
    note(
      f,
      ['settings', 'hardCap'],
      `hardCap ${formatDuration(hardCap)} raises the default cap of ${formatDuration(DEFAULT_SETTINGS.hardCapSeconds)}: rules may allow access that long`,
    );
  }

  const covered = new Set<string>();
  file.rules.forEach((rule, i) => {
    const at = (...path: Path): Path => ['rules', i, ...path];
    const before = f.problems.length;
    const resources = checkReferences(f, rule, at);
    for (const r of resources) covered.add(r.id);
    checkLimits(f, rule, at);
    checkApproval(f, rule, resources, at);
    if (f.problems.length === before) noteUnapprovable(f, policy.rules[i] as Rule, at);
  });

  file.resources.forEach((r, i) => {
    if (!covered.has(r.id)) {
      note(f, ['resources', i, 'id'], `no rule covers resource "${r.id}": nobody can request it`);
    }
  });
  return f;
}
