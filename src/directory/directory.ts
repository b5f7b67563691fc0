import { createHash } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { PolicySource } from '../policy/policy-source.js';
import type { DirectoryUser, Policy } from '../policy/policy-types.js';

/** How one source of people is doing: an unhealthy source keeps serving its last good snapshot. */
export interface SourceHealth {
  source: string;
  ok: boolean;
  /** ISO time of the last successful load, null before the first one. */
  lastSuccessAt: string | null;
  /** A message for operators; never a secret. */
  error: string | null;
  users: number;
}

/**
 * One place people come from (SCIM, LDAP, OIDC claims). A source answers from memory: loading and
 * syncing happen beside it, so evaluating a request never waits on the network.
 */
export interface DirectorySource {
  readonly name: string;
  users(): ReadonlyMap<string, DirectoryUser>;
  /**
   * Ids this source says must NOT be active, whatever any other source says (SCIM `active: false`, a SCIM
   * DELETE). Lets an authoritative source deprovision someone who is also listed in a lower source.
   */
  suspended(): ReadonlySet<string>;
  /** Changes whenever users() or suspended() would answer differently. */
  version(): string;
  health(): SourceHealth;
  /** Called by the source after its data changed, so removals are acted on at once, not on the next read. */
  subscribe?(listener: () => void): void;
}

export interface DirectoryConflict {
  /** The id that was dropped. */
  userId: string;
  source: string;
  reason: string;
}

export interface Directory {
  users(): ReadonlyMap<string, DirectoryUser>;
  get(id: string): DirectoryUser | undefined;
  byEmail(email: string): DirectoryUser | undefined;
  /** Changes when anyone's membership, roles or manager change. */
  version(): string;
  /** Recomputes now if a source changed; emits onRemoved for people who left. */
  refresh(): void;
  health(): { ok: boolean; sources: SourceHealth[] };
  /** People shadowed or dropped by the merge rule, for the boot log and `health`. */
  conflicts(): readonly DirectoryConflict[];
}

export interface DirectoryOptions {
  /** The YAML directory of the policy in force (small setups; break-glass accounts). Lowest precedence. */
  yaml: () => ReadonlyMap<string, DirectoryUser>;
  /** In precedence order: the first source that knows an id describes that person entirely. */
  sources: readonly DirectorySource[];
  /** People who were in the merged directory and are no longer: their access must end. */
  onRemoved?: (userIds: string[]) => void;
  logger?: Logger;
}

interface Snapshot {
  key: string;
  users: ReadonlyMap<string, DirectoryUser>;
  byEmail: ReadonlyMap<string, DirectoryUser>;
  version: string;
  conflicts: DirectoryConflict[];
}

const emailKey = (email: string) => email.trim().toLowerCase();

/**
 * The merge rule, pure so it can be tested on its own:
 *
 * 1. Precedence: sources in the order given, then YAML. The first source holding an id describes that person
 *    entirely. Records are never merged field by field: manager from LDAP plus teams from YAML would be a
 *    person no source describes, and a lower source could quietly add `security: true` to someone.
 * 2. Suspension wins over everything: an id any source suspends is absent, even if a lower source lists it.
 * 3. One email, one person: a lower-precedence record whose email already belongs to another id is dropped
 *    and reported as a conflict (the same person under two ids would be able to approve their own request).
 * 4. A manager who is not in the merged directory becomes null (the manager tier then reports it).
 */
export function mergeDirectory(
  layers: readonly {
    name: string;
    users: ReadonlyMap<string, DirectoryUser>;
    suspended: ReadonlySet<string>;
  }[],
): { users: Map<string, DirectoryUser>; conflicts: DirectoryConflict[] } {
  const suspended = new Set<string>();
  for (const layer of layers) for (const id of layer.suspended) suspended.add(id);
  const users = new Map<string, DirectoryUser>();
  const emails = new Map<string, string>();
  const conflicts: DirectoryConflict[] = [];
  for (const layer of layers) {
    for (const user of layer.users.values()) {
      if (suspended.has(user.id)) continue;
      const holder = users.get(user.id);
      if (holder !== undefined) {
        conflicts.push({ userId: user.id, source: layer.name, reason: 'shadowed by a higher source' });
        continue;
      }
      const owner = emails.get(emailKey(user.email));
      if (owner !== undefined) {
        conflicts.push({
          userId: user.id,
          source: layer.name,
          reason: `email ${user.email} already belongs to ${owner}`,
        });
        continue;
      }
      users.set(user.id, user);
      emails.set(emailKey(user.email), user.id);
    }
  }
  for (const [id, user] of users) {
    if (user.manager !== null && !users.has(user.manager)) users.set(id, { ...user, manager: null });
  }
  return { users, conflicts };
}

/** A stable digest of what approvals depend on, so equal directories have equal versions. */
function digest(users: ReadonlyMap<string, DirectoryUser>): string {
  const rows = [...users.values()]
    .map((u) => [
      u.id,
      u.email,
      u.name,
      u.manager,
      [...u.teams].sort(),
      u.security,
      u.admin,
      u.auditor,
      u.onCall,
    ])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  return createHash('sha256').update(JSON.stringify(rows)).digest('hex').slice(0, 16);
}

export function createDirectory(opts: DirectoryOptions): Directory {
  let yamlSeen: ReadonlyMap<string, DirectoryUser> | null = null;
  let yamlGeneration = 0;
  let current: Snapshot | null = null;

  function keyNow(): string {
    const yaml = opts.yaml();
    // The policy holder swaps the whole map on reload, so identity is a cheap change detector.
    if (yaml !== yamlSeen) {
      yamlSeen = yaml;
      yamlGeneration++;
    }
    return [`yaml:${yamlGeneration}`, ...opts.sources.map((s) => `${s.name}:${s.version()}`)].join('|');
  }

  function snapshot(): Snapshot {
    const key = keyNow();
    if (current !== null && current.key === key) return current;
    const { users, conflicts } = mergeDirectory([
      ...opts.sources.map((s) => ({ name: s.name, users: s.users(), suspended: s.suspended() })),
      { name: 'yaml', users: opts.yaml(), suspended: new Set<string>() },
    ]);
    const byEmail = new Map<string, DirectoryUser>();
    for (const u of users.values()) byEmail.set(emailKey(u.email), u);
    const previous = current;
    current = { key, users, byEmail, version: digest(users), conflicts };
    if (previous !== null) {
      const removed = [...previous.users.keys()].filter((id) => !users.has(id)).sort();
      if (removed.length > 0) {
        opts.logger?.info({ removed }, 'people left the directory; ending their access');
        opts.onRemoved?.(removed);
      }
    }
    return current;
  }

  for (const source of opts.sources) source.subscribe?.(() => snapshot());

  return {
    users: () => snapshot().users,
    get: (id) => snapshot().users.get(id),
    byEmail: (email) => snapshot().byEmail.get(emailKey(email)),
    version: () => snapshot().version,
    refresh: () => void snapshot(),
    conflicts: () => snapshot().conflicts,
    health() {
      const sources = opts.sources.map((s) => s.health());
      return { ok: sources.every((s) => s.ok), sources };
    },
  };
}

/**
 * The policy in force with its `users` replaced by the merged directory: hand this to createStint as `policy`
 * so evaluation, authentication and whoami all see the same people. Cached per (policy, directory version).
 */
export function withDirectory(policy: PolicySource, directory: Directory): PolicySource {
  let cached: { base: Policy; version: string; merged: Policy } | null = null;
  return {
    current() {
      const base = policy.current();
      const users = directory.users();
      const version = directory.version();
      if (cached === null || cached.base !== base || cached.version !== version) {
        cached = { base, version, merged: { ...base, users: new Map(users) } };
      }
      return cached.merged;
    },
  };
}
