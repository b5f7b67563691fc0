import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { resourceRole } from '../render-request.js';

export function registerCredentials(program: Command, ctx: CliContext): void {
  program
    .command('credentials')
    .description('show the credential of an approved request (once only)')
    .argument('<id>', 'request id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const cred = await ctx.api(cmd).takeCredential(id);
      out.result(cred, () => {
        const { url, ...rest } = cred.secret;
        if (url !== undefined) {
          out.line(url);
          out.line();
        }
        out.fields([
          ['request', cred.requestId],
          ['access', resourceRole(cred)],
          ['principal', cred.principal],
          ...Object.entries(rest),
          ['expires', out.when(cred.expiresAt)],
        ]);
        out.note(
          `note: this credential is shown once and cannot be shown again; it stops working at ${out.when(cred.expiresAt)}.`,
        );
      });
    });
}
