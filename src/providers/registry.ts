import { StintError } from '../domain/errors.js';
import { type Logger, silentLogger } from '../logger.js';
import type { Policy, Resource } from '../policy/policy-types.js';
import { describeRef, type Env, readConnectionRef } from './connection-ref.js';
import { instrumentProvider } from './instrument.js';
import { type PostgresConfig, parsePostgresConfig } from './postgres/postgres-config.js';
import { createPostgresProvider } from './postgres/postgres-provider.js';
import type { CredentialProvider, ProviderKind, TargetOwner } from './provider.js';
import type { ProviderMetrics } from './provider-metrics.js';

/** Every kind's parsed configuration, told apart by `kind`. */
export type ProviderConfig = PostgresConfig;

interface KindEntry<C extends ProviderConfig> {
  /**
   * Reads and checks what the kind needs to reach a target, throwing CONFIG_INVALID. Each kind decides what
   * that is (an admin URL for PostgreSQL; a role ARN or a kubeconfig for others, or nothing at all).
   */
  configure(resource: Resource, env: Env): C;
  create(config: C, ctx: { owner: TargetOwner; logger: Logger | undefined }): CredentialProvider;
}

/** Adding a kind is one entry here and one folder beside postgres/; the union makes a missing entry an error. */
const KINDS: { [K in ProviderKind]: KindEntry<Extract<ProviderConfig, { kind: K }>> } = {
  postgres: {
    configure: (resource, env) =>
      parsePostgresConfig(
        resource.id,
        { adminUrl: readConnectionRef(resource, env) },
        describeRef(resource.connection),
      ),
    create: (config, { owner, logger }) =>
      createPostgresProvider({ config, owner, ...(logger ? { logger } : {}) }),
  },
};

function entryFor(resource: Resource): KindEntry<ProviderConfig> {
  const entry = (KINDS as Record<string, KindEntry<ProviderConfig> | undefined>)[resource.kind];
  if (!entry)
    throw new StintError('CONFIG_INVALID', `resource ${resource.id}: unknown kind ${String(resource.kind)}`);
  return entry;
}

/** One resource's configuration, read and checked: CONFIG_INVALID names the resource and where it looked. */
export function resolveProviderConfig(resource: Resource, env: Env): ProviderConfig {
  return entryFor(resource).configure(resource, env);
}

/**
 * Every resource's configuration, checked when a policy is loaded (at start and on each reload): a missing
 * variable, an unreadable file or a bad URL stops the boot, or refuses the reload, with one CONFIG_INVALID that
 * lists every resource at fault. Values are never in the message.
 */
export function resolveProviderConfigs(
  policy: Pick<Policy, 'resources'>,
  env: Env,
): Map<string, ProviderConfig> {
  const configs = new Map<string, ProviderConfig>();
  const problems: string[] = [];
  for (const resource of policy.resources.values()) {
    try {
      configs.set(resource.id, resolveProviderConfig(resource, env));
    } catch (err) {
      if (!(err instanceof StintError)) throw err;
      problems.push(err.message);
    }
  }
  if (problems.length > 0) {
    throw new StintError('CONFIG_INVALID', `invalid provider configuration: ${problems.join('; ')}`, {
      problems,
    });
  }
  return configs;
}

export interface CreateProviderOptions {
  owner: TargetOwner;
  logger?: Logger;
  metrics?: ProviderMetrics;
}

/** A resource's provider, inside the wrapper that logs, times out and counts its calls. */
export function createProvider(
  resource: Resource,
  env: Env,
  options: CreateProviderOptions,
): CredentialProvider {
  const entry = entryFor(resource);
  const inner = entry.create(entry.configure(resource, env), {
    owner: options.owner,
    logger: options.logger,
  });
  return instrumentProvider(inner, {
    resource: resource.id,
    logger: options.logger ?? silentLogger,
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
}
