import { formatDuration } from '../domain/duration.js';
import type { PolicyFile } from './policy-schema.js';
import type { BreakglassEntry, Policy, PolicyProblem } from './policy-types.js';
import type { Path, YamlSource } from './yaml-source.js';

/**
 * The policy's `breakglass:` block: built with its defaults, and judged against the rest of the file. Its own
 * section, so the request rules above it are untouched by it.
 *
 * ```yaml
 * breakglass:
 *   - id: prod-emergency
 *     resources: [prod-db]          # each resource in one entry at most
 *     roles: [admin]                # or ['*']
 *     who: { teams: [sre], users: [alice] }
 *     maxDuration: 30m              # at most 1h: break-glass is short
 *     channels: [security-pager]    # notification channels alerted at once
 *     escalateAfter: 15m            # unacknowledged that long: escalated (default 15m; 1m … 24h)
 *     drillEvery: 365d              # a passing drill within this (default 365d; 90d … 365d)
 *     postmortem: { owner: sam, due: 5d }   # default: whoever invoked, 5d (1d … 30d)
 * ```
 */

/** Break-glass is for minutes, not a shift: no entry may allow longer. */
export const BREAKGLASS_MAX_SECONDS = 3600;
export const BREAKGLASS_DEFAULTS = {
  escalateAfterSeconds: 15 * 60,
  drillEverySeconds: 365 * 86_400,
  postmortemDueSeconds: 5 * 86_400,
} as const;
const LIMITS = {
  minDuration: 60,
  escalateAfter: [60, 86_400],
  drillEvery: [90 * 86_400, 365 * 86_400],
  postmortemDue: [86_400, 30 * 86_400],
} as const;

const unique = <T>(items: readonly T[]): T[] => [...new Set(items)];

export function buildBreakglass(file: PolicyFile): BreakglassEntry[] {
  return (file.breakglass ?? []).map((b) => ({
    id: b.id,
    description: b.description,
    resources: unique(b.resources),
    roles: unique(b.roles),
    eligible: { users: unique(b.who.users), teams: unique(b.who.teams) },
    maxDurationSeconds: b.maxDuration,
    channels: unique(b.channels),
    escalateAfterSeconds: b.escalateAfter ?? BREAKGLASS_DEFAULTS.escalateAfterSeconds,
    drillEverySeconds: b.drillEvery ?? BREAKGLASS_DEFAULTS.drillEverySeconds,
    postmortem: {
      owner: b.postmortem?.owner ?? null,
      dueSeconds: b.postmortem?.due ?? BREAKGLASS_DEFAULTS.postmortemDueSeconds,
    },
  }));
}

function within(
  problems: PolicyProblem[],
  source: YamlSource,
  path: Path,
  value: number | undefined,
  [min, max]: readonly [number, number],
  what: string,
): void {
  if (value === undefined || (value >= min && value <= max)) return;
  problems.push(
    source.problem(path, `${what} must be between ${formatDuration(min)} and ${formatDuration(max)}`),
  );
}

/** Everything about the block that needs more than one field: references, limits, overlaps. */
export function checkBreakglass(file: PolicyFile, policy: Policy, source: YamlSource): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  const fail = (path: Path, message: string) => problems.push(source.problem(path, message));
  const ids = new Map<string, number>();
  const claimed = new Map<string, string>();
  const teams = new Set([...policy.users.values()].flatMap((u) => u.teams));
  (file.breakglass ?? []).forEach((b, i) => {
    const at = (...path: Path): Path => ['breakglass', i, ...path];
    const first = ids.get(b.id);
    if (first !== undefined) {
      const { line } = source.position(['breakglass', first, 'id']);
      fail(at('id'), `duplicate break-glass id "${b.id}" (first at line ${line})`);
    } else ids.set(b.id, i);

    for (const [j, id] of b.resources.entries()) {
      const resource = policy.resources.get(id);
      if (!resource) {
        fail(at('resources', j), `unknown resource "${id}"`);
        continue;
      }
      const other = claimed.get(id);
      // Two entries for one resource would make who may break glass there depend on their order.
      if (other !== undefined && other !== b.id) {
        fail(at('resources', j), `resource "${id}" is already in break-glass entry "${other}"`);
        continue;
      }
      claimed.set(id, b.id);
      b.roles.forEach((role, k) => {
        if (role !== '*' && !Object.hasOwn(resource.roles, role)) {
          fail(at('roles', k), `resource "${id}" has no role "${role}"`);
        }
      });
    }
    if (b.roles.includes('*') && b.roles.length > 1) {
      fail(at('roles'), '"*" already means every role: list it alone');
    }
    if (b.who.users.length === 0 && b.who.teams.length === 0) {
      fail(at('who'), 'name at least one team or user who may break glass');
    }
    b.who.users.forEach((id, j) => {
      if (!policy.users.has(id)) fail(at('who', 'users', j), `unknown user "${id}"`);
    });
    b.who.teams.forEach((team, j) => {
      if (!teams.has(team)) fail(at('who', 'teams', j), `no user is in team "${team}"`);
    });
    if (b.maxDuration > BREAKGLASS_MAX_SECONDS) {
      fail(
        at('maxDuration'),
        `maxDuration ${formatDuration(b.maxDuration)} is longer than break-glass allows (${formatDuration(BREAKGLASS_MAX_SECONDS)})`,
      );
    } else if (b.maxDuration < LIMITS.minDuration) {
      fail(at('maxDuration'), `maxDuration must be at least ${formatDuration(LIMITS.minDuration)}`);
    } else if (b.maxDuration > policy.settings.hardCapSeconds) {
      fail(
        at('maxDuration'),
        `maxDuration ${formatDuration(b.maxDuration)} exceeds settings.hardCap ${formatDuration(policy.settings.hardCapSeconds)}`,
      );
    }
    const channels = new Set<string>();
    b.channels.forEach((c, j) => {
      if (channels.has(c)) fail(at('channels', j), `channel "${c}" is listed twice`);
      channels.add(c);
    });
    within(problems, source, at('escalateAfter'), b.escalateAfter, LIMITS.escalateAfter, 'escalateAfter');
    within(problems, source, at('drillEvery'), b.drillEvery, LIMITS.drillEvery, 'drillEvery');
    within(
      problems,
      source,
      at('postmortem', 'due'),
      b.postmortem?.due,
      LIMITS.postmortemDue,
      'postmortem.due',
    );
    const owner = b.postmortem?.owner;
    if (owner !== undefined && !policy.users.has(owner)) {
      fail(at('postmortem', 'owner'), `unknown user "${owner}"`);
    }
  });
  return problems;
}
