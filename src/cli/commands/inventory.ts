import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { isStintError } from '../../domain/errors.js';
import type { Policy } from '../../policy/policy-types.js';
import type { StandingPrincipal } from '../../providers/provider.js';
import { CliError, usageError } from '../cli-error.js';
import type { CliContext } from '../context.js';
import { truncate } from '../output.js';
import { loadPolicy } from './policy.js';

/** One resource's standing access, or why there is none to show. */
export interface ResourceInventory {
  resource: string;
  kind: string;
  /** `standing`: the target was read; `none`: its kind cannot list standing access (`why`). */
  inventory: 'standing' | 'none';
  why?: string;
  /** What the kind's listing sees and does not, for the reader of an empty list. */
  sees?: string;
  ok: boolean;
  principals?: StandingPrincipal[];
  /** CONFIG_INVALID (the connection cannot be read) or PROVIDER_ERROR (the target refused or is out of reach). */
  code?: string;
  class?: string;
  message?: string;
}

const LIST_MS = 30_000;

/**
 * Reads every resource's target as the server would reach it (the kind's configuration, the one wrapper with its
 * deadlines and secret scrubbing) and lists the privilege there that Stint did not grant, beside the grants the
 * policy makes just in time. Nothing is created or changed on any target.
 */
export async function collectInventory(policy: Policy, env: NodeJS.ProcessEnv): Promise<ResourceInventory[]> {
  const { defaultKinds } = await import('../../providers/registry.js');
  const { standingInventory } = await import('../../providers/kind.js');
  // A store that owns nothing: the listing leaves out every store's principals alike, this one's included.
  const owner = { deployment: policy.settings.deployment, storeId: `st_${randomBytes(8).toString('hex')}` };
  const out: ResourceInventory[] = [];
  for (const resource of policy.resources.values()) {
    const row: ResourceInventory = {
      resource: resource.id,
      kind: resource.kind,
      inventory: 'none',
      ok: true,
    };
    out.push(row);
    const declared = standingInventory(defaultKinds.kindOf(resource).capabilities);
    if (declared.lists === 'none') {
      row.why = declared.why;
      continue;
    }
    Object.assign(row, { inventory: 'standing', sees: declared.sees });
    const grants = [...new Set(Object.values(resource.roles).flatMap((r) => r.grants))];
    let provider: ReturnType<typeof defaultKinds.create> | undefined;
    try {
      provider = defaultKinds.create(defaultKinds.resolve(resource, env), { owner });
      if (!provider.listStanding) throw new Error(`kind ${resource.kind} has no listStanding`);
      row.principals = (await provider.listStanding({ grants }, AbortSignal.timeout(LIST_MS))).principals;
    } catch (e) {
      if (!isStintError(e)) throw e;
      const details = (e.details ?? {}) as { class?: string };
      Object.assign(row, {
        ok: false,
        code: e.code,
        message: e.message,
        ...(details.class ? { class: details.class } : {}),
      });
    } finally {
      await provider?.close().catch(() => {});
    }
  }
  return out;
}

export function registerInventory(program: Command, ctx: CliContext): void {
  program
    .command('inventory')
    .description(
      "list standing privilege on each resource's target that Stint did not grant (local, no server)",
    )
    .option('--policy <file>', 'policy YAML (env STINT_POLICY)')
    .action(async (opts: { policy?: string }, cmd: Command) => {
      const policyFile = opts.policy ?? ctx.io.env.STINT_POLICY;
      if (!policyFile) throw usageError('inventory needs --policy <file> (or STINT_POLICY)');
      const out = ctx.output(cmd);
      const policy = await loadPolicy(out, policyFile);
      const resources = await collectInventory(policy, ctx.io.env);
      const failed = resources.filter((r) => !r.ok);
      out.result({ ok: failed.length === 0, resources }, () => {
        const rows = resources.flatMap((r) =>
          (r.principals ?? []).map((p) => [
            r.resource,
            r.kind,
            p.principal,
            p.privileges.join('\n'),
            truncate(p.reason, 72),
          ]),
        );
        if (rows.length > 0)
          out.table(['resource', 'kind', 'principal', 'privileges', 'why it counts'], rows);
        for (const r of resources) {
          if (r.inventory === 'none') out.line(`- ${r.resource} (${r.kind}): no inventory: ${r.why}`);
          else if (!r.ok)
            out.line(`✗ ${r.resource} (${r.kind}): ${r.code}${r.class ? ` (${r.class})` : ''}: ${r.message}`);
          else if (r.principals?.length === 0)
            out.line(`✓ ${r.resource} (${r.kind}): no standing privilege found`);
        }
      });
      if (failed.length > 0) {
        throw new CliError(
          failed[0]?.code ?? 'PROVIDER_ERROR',
          `${failed.length} of ${resources.length} target(s) could not be read as Stint's admin`,
        );
      }
    });
}
