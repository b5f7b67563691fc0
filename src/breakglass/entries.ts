import type { BreakglassEntry, DirectoryUser, Policy } from '../policy/policy-types.js';

/** Reading the policy's `breakglass:` block: which entry covers what, and whom it names. */

/** The break-glass entry of the policy covering this resource and role, if any. */
export function entryFor(policy: Policy, resource: string, role: string): BreakglassEntry | undefined {
  return (policy.breakglass ?? []).find(
    (b) => b.resources.includes(resource) && (b.roles.includes('*') || b.roles.includes(role)),
  );
}

/** The entry covering a resource whatever the role (unsealing, drills). */
export function entryForResource(policy: Policy, resource: string): BreakglassEntry | undefined {
  return (policy.breakglass ?? []).find((b) => b.resources.includes(resource));
}

export function mayBreakGlass(entry: BreakglassEntry, user: DirectoryUser | undefined): boolean {
  return (
    user !== undefined &&
    (entry.eligible.users.includes(user.id) || user.teams.some((t) => entry.eligible.teams.includes(t)))
  );
}
