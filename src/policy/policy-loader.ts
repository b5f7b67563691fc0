/**
 * Policy as code: one YAML file holds the directory, the resources and the rules. It is parsed whole, checked
 * whole, and either loaded whole or refused with every problem located to `file:line:column: field`. There is
 * no half-loaded policy: a running server keeps its previous policy when a reload fails.
 *
 * ```yaml
 * version: 1                       # format version; the policy's own version is a hash of the file
 * settings:                        # optional, defaults shown
 *   deployment: stint              # names this deployment (audit, checkpoints)
 *   hardCap: 4h                    # no rule may allow longer; above 4h is allowed, and noted
 *   pendingTimeout: 24h            # an unapproved request times out after this
 *   minDuration: 5m                # no rule allows a shorter window unless it sets duration.min
 *   allowSharedDeploymentName: false   # start although a target holds another Stint store's roles
 *                                  # under this deployment name (each store still touches only its own)
 * users:                           # the directory
 *   - id: alice                    # ids: lowercase letters, digits, . _ - (users, teams, resources, roles, rules)
 *     email: alice@example.com     # unique
 *     name: Alice                  # optional, defaults to the id
 *     manager: carol               # optional; must be another user
 *     teams: [payments]            # optional
 *     security: false              # optional: may fill security slots, revoke any grant
 *     admin: false                 # optional: configuration only
 *     auditor: false               # optional: read-only access to requests and audit
 *     onCall: false                # optional: on call now (rules may require it)
 * resources:
 *   - id: prod-db
 *     kind: postgres
 *     description: Production database               # optional
 *     sensitivity: critical                          # routine | sensitive | critical (critical refuses auto)
 *     connection: { env: STINT_PROD_DB_URL }         # or { file: /run/secrets/prod-db-url }; exactly one.
 *                                                    # A URL or password inline is refused. Optional
 *                                                    # only for kinds with a default credential chain.
 *     options: { publicHost: db.example.com }        # optional; the kind says which options exist
 *     roles:                                         # at least one
 *       admin: { description: Full DDL/DML, grants: [app_admin] }   # grants: as the kind names them
 * rules:                           # evaluated in order, the first match wins; no match = denied
 *   - id: prod-db-admin
 *     description: On-call DBA work                  # optional
 *     resources: [prod-db]
 *     roles: [admin]                                 # or ['*'] for every role of those resources
 *     who: { teams: [payments], users: [dave] }      # at least one of the two; onCall: true → only
 *                                                    # those of them on call now
 *     duration: { default: 1h, max: 4h }             # min (optional, else settings.minDuration)
 *                                                    # ≤ default ≤ max ≤ settings.hardCap
 *     ticket:                                        # optional; absent = any non-empty reason
 *       required: true                               # default true when the block is present
 *       patterns: ['^INC-\d+$', '^https://tracker\.example\.com/']   # anchored with ^; one must match
 *     approval: [manager, two-person]                # auto | peer | manager | security | two-person;
 *                                                    # all are required; auto stands alone
 * ```
 *
 * Durations are `90m`, `2h`, `1h30m`, `1d`. Every field is checked strictly: an unknown field (a typo such as
 * `sensitivty`) is an error naming it. Things that are legal but probably not meant (a rule some eligible
 * requester could never get approved under, a team nobody is in) come back as `notes`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { formatDuration } from '../domain/duration.js';
import { PolicyError } from './policy-error.js';
import { approvalSlots, isEligibleRequester, unsatisfiable } from './policy-evaluator.js';
import { type PolicyFile, policyFileSchema } from './policy-schema.js';
import type { DirectoryUser, Policy, PolicyKind, PolicyProblem, Resource, Rule } from './policy-types.js';
import { type Path, parseAt, parseWith, readYaml, throwIfAny, type YamlSource } from './yaml-source.js';

/**
 * Elevations are meant to last one to four hours, so that is the cap unless a policy says otherwise. A policy
 * may raise it (an incident can need a long window), and the raise is noted wherever the policy is checked.
 */
export const DEFAULT_SETTINGS = {
  deployment: 'stint',
  hardCapSeconds: 4 * 3600,
  pendingTimeoutSeconds: 24 * 3600,
  minDurationSeconds: 5 * 60,
} as const;

/** How many requesters a note about one rule names before it summarises. */
const NOTE_LIMIT = 5;

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}

function policyVersion(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 12);
}

function build(file: PolicyFile, text: string): Policy {
  const minDurationSeconds = file.settings?.minDuration ?? DEFAULT_SETTINGS.minDurationSeconds;
  const users = new Map<string, DirectoryUser>();
  for (const u of file.users) {
    if (users.has(u.id)) continue; // reported by crossCheck; the policy is never returned then
    users.set(u.id, {
      id: u.id,
      email: u.email,
      name: u.name ?? u.id,
      manager: u.manager ?? null,
      teams: unique(u.teams),
      security: u.security,
      admin: u.admin,
      auditor: u.auditor,
      onCall: u.onCall,
    });
  }
  const resources = new Map<string, Resource>();
  for (const r of file.resources) {
    if (resources.has(r.id)) continue;
    resources.set(r.id, {
      id: r.id,
      kind: r.kind,
      description: r.description,
      sensitivity: r.sensitivity,
      connection: r.connection ?? null,
      options: r.options ?? {},
      roles: Object.fromEntries(
        Object.entries(r.roles).map(([name, role]) => [
          name,
          { name, description: role.description, grants: unique(role.grants) },
        ]),
      ),
    });
  }
  const rules: Rule[] = file.rules.map((r) => ({
    id: r.id,
    description: r.description,
    resources: unique(r.resources),
    roles: unique(r.roles),
    eligible: { users: unique(r.who.users), teams: unique(r.who.teams), onCall: r.who.onCall ?? false },
    minDurationSeconds: r.duration.min ?? minDurationSeconds,
    defaultDurationSeconds: r.duration.default,
    maxDurationSeconds: r.duration.max,
    ticket: { required: r.ticket?.required ?? false, patterns: r.ticket?.patterns ?? [] },
    approval: [...r.approval],
  }));
  return {
    version: policyVersion(text),
    source: text,
    settings: {
      deployment: file.settings?.deployment ?? DEFAULT_SETTINGS.deployment,
      hardCapSeconds: file.settings?.hardCap ?? DEFAULT_SETTINGS.hardCapSeconds,
      pendingTimeoutSeconds: file.settings?.pendingTimeout ?? DEFAULT_SETTINGS.pendingTimeoutSeconds,
      minDurationSeconds,
      allowSharedDeploymentName: file.settings?.allowSharedDeploymentName ?? false,
    },
    users,
    resources,
    rules,
    notes: [],
  };
}

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
function crossCheck(file: PolicyFile, policy: Policy, source: YamlSource): Findings {
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

/**
 * Each resource against its kind: the kind must be known, `connection` present unless the kind has a default
 * credential chain, `options` and every role's `grants` valid by the kind's own schemas. Replaces both with
 * what those schemas parsed, so what is loaded is what was checked.
 */
function checkKinds(file: PolicyFile, source: YamlSource, kinds: readonly PolicyKind[]): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  const byName = new Map(kinds.map((k) => [k.kind, k]));
  file.resources.forEach((r, i) => {
    const at = (...path: Path): Path => ['resources', i, ...path];
    const kind = byName.get(r.kind);
    if (kind === undefined) {
      const known = kinds.map((k) => k.kind).join(', ');
      problems.push(source.problem(at('kind'), `unknown kind "${r.kind}"; this server knows: ${known}`));
      return;
    }
    if (r.connection === undefined && kind.connection === 'required') {
      problems.push(
        source.problem(at('id'), `kind ${r.kind} needs a connection: { env: VARIABLE } or { file: /path }`),
      );
    }
    const options = parseAt(
      source,
      kind.options,
      r.options ?? {},
      r.options === undefined ? at() : at('options'),
    );
    if (options.ok) r.options = options.data as Record<string, unknown>;
    else problems.push(...options.problems);
    for (const [name, role] of Object.entries(r.roles)) {
      const grants = parseAt(source, kind.grants, role.grants, at('roles', name, 'grants'));
      if (grants.ok) role.grants = grants.data;
      else problems.push(...grants.problems);
    }
  });
  return problems;
}

/**
 * Parses and checks a policy. Throws PolicyError listing every problem; never returns a partial policy.
 * `kinds` are the target kinds the server knows (the provider registry's descriptors): every resource is
 * checked against its own. Without them a resource's kind-specific blocks are kept as written, unchecked: only
 * for tools that read the directory, never for what runs or checks targets.
 */
export function parsePolicy(text: string, file: string, kinds?: readonly PolicyKind[]): Policy {
  const source = readYaml(text, file);
  const parsed = parseWith(source, policyFileSchema);
  const kindProblems = kinds ? checkKinds(parsed, source, kinds) : [];
  const policy = build(parsed, text);
  const { problems, notes } = crossCheck(parsed, policy, source);
  throwIfAny([...kindProblems, ...problems]);
  return { ...policy, notes };
}

/** Reads and parses a policy file. An unreadable file is a PolicyError too, located at its start. */
export function loadPolicyFile(path: string, kinds?: readonly PolicyKind[]): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new PolicyError([
      { file: path, line: 1, column: 1, field: '', message: `cannot read the file: ${(e as Error).message}` },
    ]);
  }
  return parsePolicy(text, path, kinds);
}
