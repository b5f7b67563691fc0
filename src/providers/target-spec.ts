/**
 * What a provider is told about the resource it serves: the policy's resource as the providers see it. Defined
 * here, beside the contract, so providers never import the policy; the policy's `Resource` satisfies it.
 */

/** Where a resource's admin secret comes from. Never a secret inline in the policy. */
export type ConnectionRef = { env: string } | { file: string };

export interface TargetSpec<Options = unknown> {
  /** The resource's id in the policy, named in every message and log line. */
  id: string;
  kind: string;
  /** Absent where the kind has a default credential chain (an instance role, a mounted service account). */
  connection: ConnectionRef | null;
  /** The resource's `options` block, already checked and parsed by the kind's options schema at load. */
  options: Options;
}
