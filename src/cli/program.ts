import { Command, CommanderError } from 'commander';
import { isStintError } from '../domain/errors.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE, ExitStatus, formatCliError } from './cli-error.js';
import { commandsFor } from './command-table.js';
import { type CliIo, createContext } from './context.js';
import { packageVersion } from './version.js';

/**
 * The `stint` command tree, writing only to `io`. Commander is told never to exit the process: failures surface
 * as exceptions that `runCli` turns into an exit status. Given the command line, only the commands it can reach
 * are loaded and registered (see command-table.ts); without one, the whole tree.
 */
export async function buildProgram(io: CliIo, argv?: readonly string[]): Promise<Command> {
  const ctx = createContext(io);
  const program = new Command('stint')
    .description('Just-in-time privileged access: ask, get approved, use it, it expires.')
    .version(packageVersion())
    .option('--url <url>', 'Stint server URL (env STINT_URL, default http://127.0.0.1:7070)')
    .option(
      '--token <token>',
      'API token (env STINT_TOKEN, preferred: flags are visible to other users in ps)',
    )
    .option('--json', 'print the raw JSON the API returns, for scripts')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // Commander's own refusals (a missing option, an unknown command…) read like every other CLI error.
      outputError: (message, write) => write(`error [USAGE]: ${message.replace(/^error: /, '')}`),
    })
    .showHelpAfterError('(run with --help for usage)');

  const rows = commandsFor(argv);
  const registers = await Promise.all(rows.map((row) => row.load()));
  for (const register of registers) register(program, ctx);
  return program;
}

/** Runs one command line (without the node and script arguments) and returns the exit status. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    await (await buildProgram(io, argv)).parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    return reportFailure(e, io);
  }
}

function reportFailure(e: unknown, io: CliIo): number {
  if (e instanceof CommanderError) {
    if (e.exitCode === 0) return 0;
    // A command group run without its subcommand: Commander printed the group's help, not why it stopped.
    if (e.code === 'commander.help')
      io.stderr.write('error [USAGE]: a subcommand is required (listed above)\n');
    // Anything else Commander has already printed, through outputError above.
    return EXIT_USAGE;
  }
  if (e instanceof ExitStatus) return e.exitCode;
  if (e instanceof CliError) {
    io.stderr.write(formatCliError(e));
    return e.exitCode;
  }
  if (isStintError(e)) {
    io.stderr.write(formatCliError(new CliError(e.code, e.message, { details: e.details })));
    return EXIT_FAILURE;
  }
  const message = e instanceof Error ? e.message : String(e);
  io.stderr.write(`error [INTERNAL]: ${message}\n`);
  if (io.env.STINT_DEBUG && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
  return EXIT_FAILURE;
}
