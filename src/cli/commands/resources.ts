import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { truncate } from '../output.js';

export function registerResources(program: Command, ctx: CliContext): void {
  program
    .command('resources')
    .description('list resources and the roles you can ask for')
    .action(async (_opts: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const body = await ctx.api(cmd).resources();
      out.result(body, () => {
        if (body.resources.length === 0) {
          out.line('no resources');
          return;
        }
        out.table(
          ['id', 'kind', 'sensitivity', 'roles', 'description'],
          body.resources.map((r) => [
            r.id,
            r.kind,
            r.sensitivity,
            r.roles.map((role) => role.name).join(', '),
            truncate(r.description, 50),
          ]),
        );
      });
    });
}
