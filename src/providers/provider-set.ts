import type { Resource } from '../policy/policy-types.js';
import type { CredentialProvider } from './provider.js';

export type ProviderFactory = (resource: Resource) => CredentialProvider;

/**
 * One provider (and its admin connection pool) per resource, created on first use. A policy reload that changes
 * a resource's connection gets a fresh provider; the old one is closed.
 */
export function createProviderSet(factory: ProviderFactory) {
  const byResource = new Map<string, { key: string; provider: CredentialProvider }>();

  return {
    get(resource: Resource): CredentialProvider {
      const key = JSON.stringify([resource.kind, resource.connection]);
      const cached = byResource.get(resource.id);
      if (cached && cached.key === key) return cached.provider;
      if (cached) void cached.provider.close().catch(() => {});
      const provider = factory(resource);
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
