import { StintError } from '../domain/errors.js';
import { type Logger, silentLogger } from '../logger.js';
import type { Env } from './connection-ref.js';
import { instrumentProvider } from './instrument.js';
import { type AnyKind, type KindCapabilities, type KindConfig, standingInventory } from './kind.js';
import { BUILTIN_KINDS } from './kinds.js';
import type { CredentialProvider, TargetOwner } from './provider.js';
import type { ProviderMetrics } from './provider-metrics.js';
import { scrubbingLogger } from './scrub.js';
import { createTargetQueue } from './target-queue.js';
import type { TargetSpec } from './target-spec.js';

/** A resource's configuration, read and checked once at load, with the kind that reads it. */
export interface ResolvedTarget {
  spec: TargetSpec;
  kind: AnyKind;
  config: KindConfig;
}

export interface CreateProviderOptions {
  owner: TargetOwner;
  logger?: Logger;
  metrics?: ProviderMetrics;
}

/**
 * The kinds a server knows, as a list: the policy's checks, configuration, capabilities and providers all derive
 * from it. Built in the composition root, so a test can register a kind of its own without touching src/.
 */
export function createKindRegistry(kinds: readonly AnyKind[] = BUILTIN_KINDS) {
  const byName = new Map<string, AnyKind>();
  for (const k of kinds) {
    if (byName.has(k.kind))
      throw new StintError('CONFIG_INVALID', `provider kind ${k.kind} is registered twice`);
    byName.set(k.kind, k);
  }

  function kindOf(spec: Pick<TargetSpec, 'id' | 'kind'>): AnyKind {
    const kind = byName.get(spec.kind);
    if (!kind) {
      throw new StintError('CONFIG_INVALID', `resource ${spec.id}: unknown kind ${spec.kind}`, {
        resource: spec.id,
      });
    }
    return kind;
  }

  /** One resource's configuration: CONFIG_INVALID names the resource and where it looked, never a value. */
  function resolve(spec: TargetSpec, env: Env): ResolvedTarget {
    const kind = kindOf(spec);
    return { spec, kind, config: kind.configure(spec, env) };
  }

  return {
    /** The kinds, in registration order: what the policy loader checks `kind`, `options` and `grants` against. */
    kinds,
    kindOf,
    capabilities: (spec: Pick<TargetSpec, 'id' | 'kind'>): KindCapabilities => kindOf(spec).capabilities,
    resolve,
    /**
     * Every resource's configuration, checked when a policy is loaded (at start and on each reload): one
     * CONFIG_INVALID lists every resource at fault, so a bad one stops the boot or refuses the reload.
     */
    resolveAll(specs: Iterable<TargetSpec>, env: Env): Map<string, ResolvedTarget> {
      const resolved = new Map<string, ResolvedTarget>();
      const problems: string[] = [];
      for (const spec of specs) {
        try {
          resolved.set(spec.id, resolve(spec, env));
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
      return resolved;
    },
    /** A resource's provider, inside the one wrapper: its kind's deadlines, its secrets scrubbed, its calls counted. */
    create(target: ResolvedTarget, options: CreateProviderOptions): CredentialProvider {
      const { kind, config, spec } = target;
      const logger = options.logger ? scrubbingLogger(options.logger, config.secrets) : undefined;
      const provider = kind.create(config, { owner: options.owner, logger });
      // A kind that takes input at the take must be able to use it; caught here, not at a user's take.
      if (kind.takeInput && !provider.completeCredential) {
        throw new StintError(
          'CONFIG_INVALID',
          `provider kind ${kind.kind} declares takeInput but its provider has no completeCredential`,
          { resource: spec.id },
        );
      }
      if (standingInventory(kind.capabilities).lists === 'standing' && !provider.listStanding) {
        throw new StintError(
          'CONFIG_INVALID',
          `provider kind ${kind.kind} declares a standing-access inventory but its provider has no listStanding`,
          { resource: spec.id },
        );
      }
      return instrumentProvider(provider, {
        resource: spec.id,
        logger: logger ?? silentLogger,
        secrets: config.secrets,
        queue: createTargetQueue(spec.id, config.concurrency),
        ...(kind.deadlinesMs ? { deadlinesMs: kind.deadlinesMs } : {}),
        ...(options.metrics ? { metrics: options.metrics } : {}),
      });
    },
  };
}

export type KindRegistry = ReturnType<typeof createKindRegistry>;

/** The built-in kinds. */
export const defaultKinds: KindRegistry = createKindRegistry();

/** One resource's configuration with the built-in kinds (tools and tests; the server resolves at load). */
export function resolveProviderConfig(spec: TargetSpec, env: Env): KindConfig {
  return defaultKinds.resolve(spec, env).config;
}

export function resolveProviderConfigs(policy: { resources: Map<string, TargetSpec> }, env: Env) {
  return defaultKinds.resolveAll(policy.resources.values(), env);
}

/** A resource's provider with the built-in kinds, reading its configuration now (tools and tests). */
export function createProvider(
  spec: TargetSpec,
  env: Env,
  options: CreateProviderOptions,
  registry: KindRegistry = defaultKinds,
): CredentialProvider {
  return registry.create(registry.resolve(spec, env), options);
}
