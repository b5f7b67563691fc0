import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError } from '../cli-error.js';
import type { CliContext } from '../context.js';
import { resourceRole } from '../render-request.js';

export function registerCredentials(program: Command, ctx: CliContext): void {
  program
    .command('credentials')
    .description('show the credential of an approved request (once only)')
    .argument('<id>', 'request id')
    .option(
      '--public-key <file>',
      'an OpenSSH public key for kinds that sign one (e.g. ~/.ssh/id_ed25519.pub)',
    )
    .action(async (id: string, opts: { publicKey?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const input = opts.publicKey === undefined ? undefined : { publicKey: readPublicKey(opts.publicKey) };
      const cred = await ctx.api(cmd).takeCredential(id, input);
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

/**
 * The public half only, one line: a private key given by mistake is refused here, before anything is sent, so it
 * never reaches the server. The server checks the line against the kind's schema.
 */
function readPublicKey(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(
      'FILE_UNREADABLE',
      `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  if (/PRIVATE KEY/.test(text)) {
    throw new CliError('USAGE', `${file} holds a private key: give its public half (the .pub file)`);
  }
  return text.trim();
}
