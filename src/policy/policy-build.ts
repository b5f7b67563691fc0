import { createHash } from 'node:crypto';
import { buildBreakglass } from './breakglass-policy.js';
import { buildNotifications } from './notifications-schema.js';
import type { PolicyFile } from './policy-schema.js';
import type { DirectoryUser, Policy, Resource, Rule } from './policy-types.js';

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

export function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}

function policyVersion(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 12);
}

/**
 * The policy a server runs with, from a file that parsed: defaults filled in, lists de-duplicated, the version a
 * hash of the text. Judging it is the checks' work (cross-checks.ts); a repeated id is kept once here and
 * refused there, so what this builds is never returned when the file has a problem.
 */
export function build(file: PolicyFile, text: string): Policy {
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
    breakglass: buildBreakglass(file),
    ...(file.notifications ? { notifications: buildNotifications(file.notifications) } : {}),
    notes: [],
  };
}
