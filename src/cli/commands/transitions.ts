import type { Command } from 'commander';
import type { RequestAction } from '../api.js';
import type { CliContext } from '../context.js';
import { needsLines, resourceRole, revocationLine } from '../render-request.js';
import { awaitIssuance, issuingLine } from './await-issuance.js';

const ACTIONS: { action: RequestAction; description: string }[] = [
  { action: 'approve', description: 'approve a request waiting for you' },
  { action: 'deny', description: 'deny a request waiting for you' },
  { action: 'withdraw', description: 'withdraw your own request before it is active' },
  { action: 'revoke', description: 'end access now: the credential is removed from the target' },
];

/**
 * approve, deny, withdraw, revoke: the same shape, one POST each. An approval that completes the request answers
 * once committed; approve then waits for the credential to be issued (`active` or `failed`) unless --no-wait.
 */
export function registerTransitions(program: Command, ctx: CliContext): void {
  for (const { action, description } of ACTIONS) {
    const command = program
      .command(action)
      .description(description)
      .argument('<id>', 'request id')
      .option('--comment <text>', 'recorded with the decision and in the audit trail');
    if (action === 'approve') {
      command.option('--no-wait', 'answer once the approval is recorded, without waiting for issuance');
    }
    command.action(async (id: string, opts: { comment?: string; wait?: boolean }, cmd: Command) => {
      const out = ctx.output(cmd);
      const api = ctx.api(cmd);
      const awaitIssued = action === 'approve' && opts.wait !== false;
      const answered = await api.act(id, action, opts.comment, awaitIssued);
      const r = awaitIssued ? await awaitIssuance(api, answered) : answered;
      out.result(r, () => {
        out.line(`request ${r.id} for ${resourceRole(r)} by ${r.requester}: ${r.state}`);
        for (const line of needsLines(r)) out.line(line);
        const issuing = issuingLine(r);
        if (issuing) out.line(issuing);
        const revocation = revocationLine(r);
        if (revocation) out.line(revocation);
      });
    });
  }
}
