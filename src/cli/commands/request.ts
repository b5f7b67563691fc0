import type { Command } from 'commander';
import { parseDuration } from '../../domain/duration.js';
import { isStintError } from '../../domain/errors.js';
import { usageError } from '../cli-error.js';
import type { CliContext } from '../context.js';
import { needsLines, resourceRole, wasAutoApproved } from '../render-request.js';
import { awaitIssuance, issuingLine } from './await-issuance.js';

interface RequestOptions {
  role: string;
  reason: string;
  for?: string;
  wait: boolean;
}

export function registerRequest(program: Command, ctx: CliContext): void {
  program
    .command('request')
    .description('ask for temporary access to a role on a resource')
    .argument('<resource>', 'resource id (see `stint resources`)')
    .requiredOption('--role <role>', 'role on the resource')
    .requiredOption('--reason <ticket>', 'ticket or incident reference')
    .option('--for <duration>', "how long, e.g. 90m or 2h (default: the rule's default)")
    .option(
      '--no-wait',
      'when approved automatically, answer without waiting for the credential to be issued',
    )
    .action(async (resource: string, opts: RequestOptions, cmd: Command) => {
      // Refuse a bad duration before anything goes on the wire.
      if (opts.for !== undefined) {
        try {
          parseDuration(opts.for);
        } catch (e) {
          if (isStintError(e)) throw usageError(`--for: ${e.message}`, e.code);
          throw e;
        }
      }
      const out = ctx.output(cmd);
      const api = ctx.api(cmd);
      const answered = await api.createRequest(
        {
          resource,
          role: opts.role,
          reason: opts.reason,
          duration: opts.for,
        },
        opts.wait,
      );
      const created = opts.wait ? await awaitIssuance(api, answered) : answered;
      out.result(created, () => {
        out.line(`request ${created.id} for ${resourceRole(created)}: ${created.state}`);
        if (wasAutoApproved(created)) out.line('approved automatically');
        for (const line of needsLines(created)) out.line(line);
        if (created.state === 'pending') {
          out.line(`times out if not approved: ${out.when(created.pendingUntil)}`);
        } else if (created.state === 'approved' || created.state === 'active') {
          const issuing = issuingLine(created);
          if (issuing) out.line(issuing);
          out.line(`next: stint credentials ${created.id}`);
        }
      });
    });
}
