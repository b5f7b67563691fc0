import type { Command } from 'commander';
import { createStintApi, type StintApi } from './api.js';
import { createHttpClient, DEFAULT_URL } from './http-client.js';
import { defaultLocalModules, type LocalModules } from './local-modules.js';
import { createOutput, type Output, type TextSink } from './output.js';
import { readStoredToken } from './token-file.js';

/** Everything the CLI touches outside itself; main.ts passes the process's, tests pass their own. */
export interface CliIo {
  stdout: TextSink;
  stderr: TextSink;
  env: Readonly<Record<string, string | undefined>>;
  fetch?: typeof fetch;
  now?: () => Date;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM). `stint server` runs until then. */
  untilShutdown?: () => Promise<string>;
  /** In-process commands (server, token admin); defaults load the real modules lazily. */
  local?: Partial<LocalModules>;
}

export interface GlobalOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

export interface CliContext {
  readonly io: CliIo;
  readonly local: LocalModules;
  /** Output for the command being run, honouring --json. */
  output(cmd: Command): Output;
  /** API client from --url/--token or STINT_URL/STINT_TOKEN. */
  api(cmd: Command): StintApi;
  untilShutdown(): Promise<string>;
  now(): Date;
}

export function createContext(io: CliIo): CliContext {
  const globals = (cmd: Command) => cmd.optsWithGlobals<GlobalOptions>();
  const now = io.now ?? (() => new Date());
  return {
    io,
    now,
    local: { ...defaultLocalModules, ...io.local },
    output(cmd) {
      return createOutput({
        stdout: io.stdout,
        stderr: io.stderr,
        json: globals(cmd).json === true,
        now,
      });
    },
    api(cmd) {
      const g = globals(cmd);
      return createStintApi(
        createHttpClient({
          baseUrl: g.url ?? io.env.STINT_URL ?? DEFAULT_URL,
          // After --token and STINT_TOKEN, the session `stint login` kept.
          token: g.token ?? io.env.STINT_TOKEN ?? readStoredToken(io.env),
          fetch: io.fetch,
        }),
      );
    },
    untilShutdown: io.untilShutdown ?? waitForStopSignal,
  };
}

/**
 * The first SIGINT/SIGTERM asks for a clean stop; a second one while closing exits at once, so a stuck close()
 * never traps the operator.
 */
export function waitForStopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      const force = () => process.exit(130);
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
