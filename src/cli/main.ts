#!/usr/bin/env node
import { waitForStopSignal } from './context.js';
import { runCli } from './program.js';

let stopRequested = false;

// `stint … | head` closes the pipe early: that is the reader's choice, not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const code = await runCli(process.argv.slice(2), {
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
