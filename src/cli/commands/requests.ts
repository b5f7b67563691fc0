import { type Command, Option } from 'commander';
import { REQUEST_STATES, type RequestState } from '../../domain/request.js';
import type { RequestScope } from '../../requests/request-types.js';
import type { CliContext } from '../context.js';
import { integerArg } from '../options.js';
import { truncate } from '../output.js';
import { expiresField, resourceRole } from '../render-request.js';

interface RequestsOptions {
  mine?: boolean;
  toApprove?: boolean;
  all?: boolean;
  state?: RequestState;
  limit?: number;
}

export function registerRequests(program: Command, ctx: CliContext): void {
  program
    .command('requests')
    .description('list access requests (yours by default)')
    .addOption(new Option('--mine', 'requests you made (default)').conflicts(['toApprove', 'all']))
    .addOption(new Option('--to-approve', 'requests waiting for your approval').conflicts(['all']))
    .option('--all', 'every request you may see')
    .addOption(new Option('--state <state>', 'only requests in this state').choices(REQUEST_STATES))
    .option('--limit <n>', 'at most this many', integerArg(1, 500))
    .action(async (opts: RequestsOptions, cmd: Command) => {
      const scope: RequestScope = opts.toApprove ? 'to-approve' : opts.all ? 'all' : 'mine';
      const out = ctx.output(cmd);
      const body = await ctx.api(cmd).listRequests({ scope, state: opts.state, limit: opts.limit });
      out.result(body, () => {
        if (body.requests.length === 0) {
          out.line(scope === 'to-approve' ? 'nothing waiting for your approval' : 'no requests');
          return;
        }
        out.table(
          ['id', 'requester', 'resource/role', 'state', 'reason', 'created', 'expires'],
          body.requests.map((r) => [
            r.id,
            r.requester,
            resourceRole(r),
            r.state,
            truncate(r.reason, 40),
            out.when(r.createdAt),
            expiresField(r, out.when) ?? '-',
          ]),
        );
      });
    });
}
