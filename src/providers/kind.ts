import type { z } from 'zod';
import type { Logger } from '../logger.js';
import type { Env } from './connection-ref.js';
import type { CredentialProvider, ProviderMethod, TargetOwner } from './provider.js';
import type { TargetSpec } from './target-spec.js';

/**
 * What a kind of target can do, declared once in its descriptor. The reconciler, the revoker, the README and the
 * contract suite act on it instead of assuming every target is a database.
 */
export interface KindCapabilities {
  /**
   * `remove`: revoke deletes the credential at once. `expire-only`: what was issued cannot be taken back (an SSH
   * certificate, a cloud session token); it ends at its own expiry, and `cutoff` says what stops it earlier.
   */
  revocation: 'remove' | 'expire-only';
  /** For `expire-only`: how an early end is enforced instead (e.g. "short certificate lifetime"). */
  cutoff?: string;
  /** `listOwned` can read what this store created on the target; reconciliation needs it. */
  listable: boolean;
  /** Revoke ends live sessions, not only future logins. */
  endsSessions: boolean;
  /** Issue reaches the target (a database); false when issuing is signing or minting locally. */
  contactsTargetAtIssue: boolean;
  /**
   * The standing-access inventory: `standing` when the provider's `listStanding` lists what exists on the target
   * that Stint did not grant (`sees` says what it reads, and what it cannot), `none` with `why` it cannot. Absent
   * reads as `none`, not declared (see `standingInventory`): a kind written before the inventory stays valid.
   */
  inventory?: StandingInventory;
}

export type StandingInventory = { lists: 'standing'; sees: string } | { lists: 'none'; why: string };

/** A kind's declared inventory, absent read as none: what the contract suite, the CLI and the README act on. */
export function standingInventory(capabilities: KindCapabilities): StandingInventory {
  return capabilities.inventory ?? { lists: 'none', why: 'the kind declares no standing-access inventory' };
}

/** What a kind's configuration must at least hold: the secrets the wrapper scrubs from every message. */
export interface KindConfig {
  /** Every configured secret (admin password, key, token), verbatim: removed from errors and log lines. */
  secrets: readonly string[];
  /**
   * How many calls the target serves at once through Stint's admin connection (its pool's size): the wrapper
   * admits that many and queues the rest. DEFAULT_TARGET_CONCURRENCY when absent.
   */
  concurrency?: number;
}

export interface KindContext {
  owner: TargetOwner;
  /** Already scrubs the configured secrets from every line. */
  logger: Logger | undefined;
}

/**
 * One kind of target, whole: `src/providers/<kind>/index.ts` exports one of these, and the registry is a list of
 * them. Everything else (the policy's checks, the wrapper's deadlines, what jobs may assume) derives from it.
 */
export interface ProviderKindDescriptor<Options = unknown, Config extends KindConfig = KindConfig> {
  kind: string;
  /** The resource's `options` block; absent in the policy means `{}`. Messages must not echo values. */
  options: z.ZodType<Options>;
  /** A role's `grants` list, as the target names what it grants (role names, policy names, ARNs). */
  grants: z.ZodType<string[]>;
  /**
   * What the user gives when taking the credential (an SSH public key to sign), checked at the take; the
   * provider's `completeCredential` gets it. Absent: the take accepts no body. Messages must not echo values.
   */
  takeInput?: z.ZodType<Record<string, unknown>>;
  /** `optional` where the kind has a default credential chain and a resource may leave `connection` out. */
  connection: 'required' | 'optional';
  capabilities: KindCapabilities;
  /** Per-call deadlines where the default would not fit this target. */
  deadlinesMs?: Partial<Record<ProviderMethod, number>>;
  /**
   * Reads and checks what the kind needs to reach the target, once, when the policy is loaded: throws
   * CONFIG_INVALID naming the resource and where it looked, never a value.
   */
  configure(target: TargetSpec<Options>, env: Env): Config;
  create(config: Config, ctx: KindContext): CredentialProvider;
}

/** A descriptor with its types erased, as the registry holds it. */
// biome-ignore lint/suspicious/noExplicitAny: a list holds kinds of different option and config types
export type AnyKind = ProviderKindDescriptor<any, any>;

/** Types a descriptor against its own schema and config without widening it. */
export function defineKind<Options, Config extends KindConfig>(
  descriptor: ProviderKindDescriptor<Options, Config>,
): ProviderKindDescriptor<Options, Config> {
  return descriptor;
}
