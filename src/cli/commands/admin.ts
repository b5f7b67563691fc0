import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { definedOnly } from '../options.js';

interface TokenCreateFlags {
  user: string;
  name?: string;
  db?: string;
  policy?: string;
  dataDir?: string;
}

export function registerAdmin(program: Command, ctx: CliContext): void {
  const admin = program
    .command('admin')
    .description('administration on this machine (talks to the store directly)');
  const token = admin.command('token').description('API tokens');
  token
    .command('create')
    .description('create an API token for a user; the token is shown once')
    .requiredOption('--user <id>', 'user id from the policy directory')
    .option('--name <name>', 'label to recognise the token by (default: "cli <date>")')
    .option('--db <url>', 'database URL (env STINT_DATABASE_URL)')
    .option('--policy <file>', 'policy YAML (env STINT_POLICY)')
    .option('--data-dir <dir>', 'data directory (env STINT_DATA_DIR)')
    .action(async (flags: TokenCreateFlags, cmd: Command) => {
      const out = ctx.output(cmd);
      const created = await ctx.local.createApiToken(
        definedOnly({
          userId: flags.user,
          name: flags.name ?? `cli ${ctx.now().toISOString().slice(0, 10)}`,
          databaseUrl: flags.db,
          policyPath: flags.policy,
          dataDir: flags.dataDir,
        }),
      );
      // The one place the CLI prints a token: this is its only chance to be seen.
      out.result(created, () => {
        out.fields([
          ['token id', created.id],
          ['user', flags.user],
          ['token', created.token],
        ]);
      });
      out.note('warning: this token will not be shown again; store it now (e.g. in STINT_TOKEN).');
    });
}
