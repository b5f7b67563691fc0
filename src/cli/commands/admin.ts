import type { Command } from 'commander';
import { parseDuration } from '../../domain/duration.js';
import { SCOPES } from '../../domain/scopes.js';
import { usageError } from '../cli-error.js';
import type { CliContext } from '../context.js';
import { definedOnly } from '../options.js';

interface TokenCreateFlags {
  user: string;
  name?: string;
  scope?: string[];
  expires?: string;
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
    .option(
      '--scope <scope...>',
      `limit the token to these scopes (${SCOPES.join(', ')}); a scoped token must also --expires`,
    )
    .option('--expires <duration>', 'lifetime, e.g. 30d or 12h (at most 90d for scoped tokens)')
    .option('--db <url>', 'database URL (env STINT_DATABASE_URL)')
    .option('--policy <file>', 'policy YAML (env STINT_POLICY)')
    .option('--data-dir <dir>', 'data directory (env STINT_DATA_DIR)')
    .action(async (flags: TokenCreateFlags, cmd: Command) => {
      const out = ctx.output(cmd);
      for (const s of flags.scope ?? []) {
        if (!(SCOPES as readonly string[]).includes(s))
          throw usageError(`unknown scope ${s}: use ${SCOPES.join(', ')}`);
      }
      let expiresAt: Date | undefined;
      if (flags.expires !== undefined) {
        try {
          expiresAt = new Date(ctx.now().getTime() + parseDuration(flags.expires) * 1000);
        } catch (e) {
          throw usageError(e instanceof Error ? e.message : String(e));
        }
      }
      const created = await ctx.local.createApiToken(
        definedOnly({
          userId: flags.user,
          scopes: flags.scope,
          expiresAt,
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

  token
    .command('revoke')
    .description('revoke an API token by its id, at once')
    .argument('<id>', 'token id (as printed when it was created, or by GET /v1/tokens)')
    .option('--db <url>', 'database URL (env STINT_DATABASE_URL)')
    .option('--data-dir <dir>', 'data directory (env STINT_DATA_DIR)')
    .action(async (id: string, flags: { db?: string; dataDir?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const revoked = await ctx.local.revokeApiToken(
        definedOnly({ id, databaseUrl: flags.db, dataDir: flags.dataDir }),
      );
      out.result(revoked, () => out.line(`token ${revoked.id} of ${revoked.userId} revoked`));
    });

  admin
    .command('session')
    .description('sign-in sessions')
    .command('create')
    .description('sign a person in on the server host (no identity provider): they can enrol a first factor')
    .requiredOption('--user <id>', 'directory user id')
    .option('--db <url>', 'database URL (env STINT_DATABASE_URL)')
    .option('--policy <file>', 'policy YAML (env STINT_POLICY)')
    .option('--data-dir <dir>', 'data directory (env STINT_DATA_DIR)')
    .action(async (flags: { user: string; db?: string; policy?: string; dataDir?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const created = await ctx.local.createSignInSession(
        definedOnly({
          userId: flags.user,
          databaseUrl: flags.db,
          policyPath: flags.policy,
          dataDir: flags.dataDir,
        }),
      );
      out.result(created, () => {
        out.fields([
          ['session id', created.id],
          ['user', flags.user],
          ['token', created.token],
          ['expires', out.when(created.expiresAt)],
        ]);
      });
      out.note(
        'note: give it to the person only (STINT_TOKEN); a first second factor is enrolled with it within 5 minutes.',
      );
      out.note(
        "note: the audit trail records that you made it and marks all done with it; the server's STINT_HOST_SESSIONS limits it (first-factor by default, full in the demo).",
      );
    });
}
