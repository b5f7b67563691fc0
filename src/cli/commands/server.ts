import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { definedOnly, integerArg } from '../options.js';

interface ServerFlags {
  policy?: string;
  db?: string;
  host?: string;
  port?: number;
  dataDir?: string;
  keyDir?: string;
  demo?: boolean;
}

export function registerServer(program: Command, ctx: CliContext): void {
  program
    .command('server')
    .description('run the Stint server until SIGINT/SIGTERM')
    .option('--policy <file>', 'policy YAML (env STINT_POLICY)')
    .option('--db <url>', 'database URL (env STINT_DATABASE_URL)')
    .option('--host <host>', 'listen address (env STINT_HOST)')
    .option('--port <port>', 'listen port (env STINT_PORT)', integerArg(0, 65_535))
    .option('--data-dir <dir>', 'data directory (env STINT_DATA_DIR)')
    .option(
      '--key-dir <dir>',
      'with --demo: where its keys are made and kept, outside the data directory (env STINT_KEY_DIR; default <data dir>-keys)',
    )
    .option('--demo', 'start with a demo policy and data')
    .action(async (flags: ServerFlags, cmd: Command) => {
      const out = ctx.output(cmd);
      const server = await ctx.local.runServer(
        definedOnly({
          policyPath: flags.policy,
          databaseUrl: flags.db,
          host: flags.host,
          port: flags.port,
          dataDir: flags.dataDir,
          keyDir: flags.keyDir,
          demo: flags.demo,
          print: (line: string) => out.line(line),
        }),
      );
      const signal = await ctx.untilShutdown();
      out.note(`${signal} received: stopping`);
      await server.close();
    });
}
