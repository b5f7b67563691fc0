import { isStintError } from '../domain/errors.js';
import type { Policy, Resource } from '../policy/policy-types.js';
import { standingInventory } from '../providers/kind.js';
import { NO_CANCEL, type StandingPrincipal } from '../providers/provider.js';
import type { ProviderSet } from '../providers/provider-set.js';

/** One just-in-time entitlement the policy defines on a resource: a role, what it grants, the rules that give it. */
export interface JitEntitlement {
  role: string;
  grants: string[];
  rules: string[];
}

/** One resource's standing access beside its just-in-time entitlements. */
export interface ResourceInventoryView {
  resource: string;
  kind: string;
  inventory: 'standing' | 'none';
  /** Why the kind lists nothing (`none`), or what its listing sees (`standing`). */
  why?: string;
  sees?: string;
  /** Whether Stint can take a standing role membership away on this kind (the conversion's `removed` step). */
  removable: boolean;
  ok: boolean;
  principals: StandingPrincipal[];
  entitlements: JitEntitlement[];
  /** When the target could not be read: PROVIDER_ERROR or CONFIG_INVALID, and its message. */
  error?: { code: string; message: string; class?: string };
}

/** Every role of the resource with the rules that let someone ask for it (a `*` rule gives every role). */
export function entitlementsOf(policy: Policy, resource: Resource): JitEntitlement[] {
  return Object.entries(resource.roles).map(([role, r]) => ({
    role,
    grants: [...r.grants],
    rules: policy.rules
      .filter(
        (rule) =>
          rule.resources.includes(resource.id) && (rule.roles.includes('*') || rule.roles.includes(role)),
      )
      .map((rule) => rule.id),
  }));
}

/** The grants every role of the resource names: what a standing holder has that JIT would give for a window. */
export const grantsOf = (resource: Resource) => [
  ...new Set(Object.values(resource.roles).flatMap((r) => r.grants)),
];

/** Reads one resource's standing principals through the server's provider (its deadline, its scrubbing). */
export async function standingOn(providers: ProviderSet, resource: Resource): Promise<StandingPrincipal[]> {
  const provider = providers.get(resource);
  if (!provider.listStanding) return [];
  return (await provider.listStanding({ grants: grantsOf(resource) }, NO_CANCEL)).principals;
}

/**
 * The standing-access inventory as the server sees it: per resource, the principals holding privilege Stint did
 * not grant, beside the just-in-time entitlements the policy defines there. A target that cannot be read is named
 * with its error; the others are still listed.
 */
export async function collectInventory(
  policy: Policy,
  providers: ProviderSet,
): Promise<ResourceInventoryView[]> {
  return Promise.all(
    [...policy.resources.values()].map(async (resource): Promise<ResourceInventoryView> => {
      const declared = standingInventory(providers.capabilities(resource));
      const base = {
        resource: resource.id,
        kind: resource.kind,
        entitlements: entitlementsOf(policy, resource),
        principals: [] as StandingPrincipal[],
      };
      if (declared.lists === 'none')
        return { ...base, inventory: 'none', why: declared.why, removable: false, ok: true };
      let removable = false;
      try {
        removable = typeof providers.get(resource).removeStanding === 'function';
        return {
          ...base,
          inventory: 'standing',
          sees: declared.sees,
          removable,
          ok: true,
          principals: await standingOn(providers, resource),
        };
      } catch (e) {
        if (!isStintError(e)) throw e;
        const cls = (e.details as { class?: string } | undefined)?.class;
        return {
          ...base,
          inventory: 'standing',
          sees: declared.sees,
          removable,
          ok: false,
          error: { code: e.code, message: e.message, ...(cls ? { class: cls } : {}) },
        };
      }
    }),
  );
}
