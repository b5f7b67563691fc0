import type { Command } from 'commander';
import type { RequestAction } from '../api.js';
import type { CliContext } from '../context.js';
import { needsLines, resourceRole, revocationLine } from '../render-request.js';

const ACTIONS: { action: RequestAction; description: string }[] = [
  { action: 'approve', description: 'approve a request waiting for you' },
  { action: 'deny', description: 'deny a request waiting for you' },
  { action: 'withdraw', description: 'withdraw your own request before it is active' },
  { action: 'revoke', description: 'end access now: the credential is removed from the target' },
];

/** approve, deny, withdraw, revoke: the same shape, one POST each. */
export function registerTransitions(program: Command, ctx: CliContext): void {
  for (const { action, description } of ACTIONS) {
    program
      .command(action)
      .description(description)
      .argument('<id>', 'request id')
      .option('--comment <text>', 'recorded with the decision and in the audit trail')
      .action(async (id: string, opts: { comment?: string }, cmd: Command) => {
        const out = ctx.output(cmd);
        const r = await ctx.api(cmd).act(id, action, opts.comment);
        out.result(r, () => {
          out.line(`request ${r.id} for ${resourceRole(r)} by ${r.requester}: ${r.state}`);
          for (const line of needsLines(r)) out.line(line);
          const revocation = revocationLine(r);
          if (revocation) out.line(revocation);
        });
      });
  }
}
