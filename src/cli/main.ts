#!/usr/bin/env node
import { packageVersion } from './version.js';

const argv = process.argv.slice(2);

// `stint … | head` closes the pipe early: that is the reader's choice, not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

/*
 * Cold start (issue 27, docs/performance.md): this entry imports nothing heavy itself. `stint --version` answers
 * before Commander is loaded (Commander alone costs more than its whole budget). Every other command line turns
 * on the compile cache first, which keeps V8's code for the modules loaded after it between runs (Node ≥ 22.1;
 * NODE_DISABLE_COMPILE_CACHE=1 turns it off); --version skips it, as opening the cache costs more than it saves.
 */
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  // What Commander's .version() prints for the same line (test/cli/command-table.test.ts holds them equal).
  process.stdout.write(`${packageVersion()}\n`);
} else {
  await runCommandLine();
}

async function runCommandLine(): Promise<void> {
  process.getBuiltinModule('node:module').enableCompileCache?.();
  // The server's heap is sized before anything is loaded (src/server/heap-profile.ts); a bad STINT_HEAP is left
  // to the config loader, which refuses it as CONFIG_INVALID like every other setting.
  if (argv[0] === 'server') {
    const { applyHeapProfile } = await import('../server/heap-profile.js');
    try {
      applyHeapProfile();
    } catch {}
  }
  const [{ runCli }, { waitForStopSignal }] = await Promise.all([
    import('./program.js'),
    import('./context.js'),
  ]);
  let stopRequested = false;
  const code = await runCli(argv, {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    untilShutdown: async () => {
      const signal = await waitForStopSignal();
      stopRequested = true;
      return signal;
    },
  });
  // After a stop signal the server is closed: a handle someone forgot must not keep the process alive.
  if (stopRequested) process.exit(code);
  process.exitCode = code;
}
