import type { KindCapabilities } from './kind.js';
import type { CredentialProvider, TargetOwner } from './provider.js';
import { createProviderMetrics, type ProviderMetrics } from './provider-metrics.js';
import { defaultKinds, type KindRegistry } from './registry.js';
import type { TargetSpec } from './target-spec.js';

/**
 * Builds a resource's provider; it must tag what it creates with `owner`, the only owner it reconciles for, and
 * record its calls in `ctx.metrics` (createProvider does both).
 */
export type ProviderFactory = (
  resource: TargetSpec,
  owner: TargetOwner,
  ctx: { metrics: ProviderMetrics },
) => CredentialProvider;

/**
 * One provider (and its admin connection pool) per resource, created on first use. A policy reload that changes
 * a resource's connection (or the deployment's name) gets a fresh provider; the old one is closed. The call
 * metrics outlive the providers, so a reload does not reset them.
 */
export function createProviderSet(
  factory: ProviderFactory,
  owner: () => TargetOwner,
  kinds: Pick<KindRegistry, 'capabilities' | 'kindOf'> = defaultKinds,
) {
  const byResource = new Map<string, { key: string; provider: CredentialProvider }>();
  const metrics = createProviderMetrics();

  return {
    get(resource: TargetSpec): CredentialProvider {
      const who = owner();
      const key = JSON.stringify([
        resource.kind,
        resource.connection,
        resource.options,
        who.deployment,
        who.storeId,
      ]);
      const cached = byResource.get(resource.id);
      if (cached && cached.key === key) return cached.provider;
      if (cached) void cached.provider.close().catch(() => {});
      const provider = factory(resource, who, { metrics });
      byResource.set(resource.id, { key, provider });
      return provider;
    },
    /** What the resource's kind declared it can do: jobs act on this, never on what a database could. */
    capabilities: (resource: Pick<TargetSpec, 'id' | 'kind'>): KindCapabilities =>
      kinds.capabilities(resource),
    /** What the resource's kind takes from the user at the take; undefined: it takes nothing. */
    takeInput: (resource: Pick<TargetSpec, 'id' | 'kind'>) => kinds.kindOf(resource).takeInput,
    /** Counts and durations of every provider call, per kind and method. */
    metrics: (): ReturnType<ProviderMetrics['snapshot']> => metrics.snapshot(),
    async closeAll(): Promise<void> {
      const all = [...byResource.values()];
      byResource.clear();
      await Promise.allSettled(all.map((p) => p.provider.close()));
    },
  };
}

export type ProviderSet = ReturnType<typeof createProviderSet>;
