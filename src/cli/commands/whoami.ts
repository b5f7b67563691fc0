import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export function registerWhoami(program: Command, ctx: CliContext): void {
  program
    .command('whoami')
    .description('show who the token belongs to')
    .action(async (_opts: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const me = await ctx.api(cmd).whoami();
      out.result(me, () => {
        out.fields([
          ['user', me.userId],
          ['name', me.name],
          ['email', me.email],
          ['teams', me.teams.length > 0 ? me.teams.join(', ') : '-'],
          ['manager', me.manager ?? '-'],
          ['roles', me.roles.length > 0 ? me.roles.join(', ') : '-'],
        ]);
      });
    });
}
