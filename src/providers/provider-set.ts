import type { Resource } from '../policy/policy-types.js';
import type { CredentialProvider, TargetOwner } from './provider.js';

/** Builds a resource's provider; it must tag what it creates with `owner`, the only owner it reconciles for. */
export type ProviderFactory = (resource: Resource, owner: TargetOwner) => CredentialProvider;

/**
 * One provider (and its admin connection pool) per resource, created on first use. A policy reload that changes
 * a resource's connection (or the deployment's name) gets a fresh provider; the old one is closed.
 */
export function createProviderSet(factory: ProviderFactory, owner: () => TargetOwner) {
  const byResource = new Map<string, { key: string; provider: CredentialProvider }>();

  return {
    get(resource: Resource): CredentialProvider {
      const who = owner();
      const key = JSON.stringify([resource.kind, resource.connection, who.deployment, who.storeId]);
      const cached = byResource.get(resource.id);
      if (cached && cached.key === key) return cached.provider;
      if (cached) void cached.provider.close().catch(() => {});
      const provider = factory(resource, who);
      byResource.set(resource.id, { key, provider });
      return provider;
    },
    async closeAll(): Promise<void> {
      const all = [...byResource.values()];
      byResource.clear();
      await Promise.allSettled(all.map((p) => p.provider.close()));
    },
  };
}

export type ProviderSet = ReturnType<typeof createProviderSet>;
