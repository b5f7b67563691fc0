import { describe, expect, it } from 'vitest';
import type { CreateTokenOptions, ServerOptions } from '../../src/cli/local-modules.js';
import { run } from './support.js';

describe('stint server', () => {
  it('passes only the given flags, runs until a stop signal, then closes and exits 0', async () => {
    const calls: ServerOptions[] = [];
    const events: string[] = [];
    let stop: (signal: string) => void = () => {};
    const stopped = new Promise<string>((resolve) => {
      stop = resolve;
    });
    let waiting: () => void = () => {};
    const reachedWait = new Promise<void>((resolve) => {
      waiting = resolve;
    });
    const running = run(['server', '--policy', 'p.yaml', '--port', '8080', '--demo'], {
      untilShutdown: () => {
        events.push('waiting');
        waiting();
        return stopped;
      },
      local: {
        runServer: async (opts) => {
          calls.push(opts);
          opts.print?.('Stint listening on http://127.0.0.1:8080');
          return { url: 'http://127.0.0.1:8080', close: async () => void events.push('closed') };
        },
      },
    });
    await reachedWait;
    expect(events).toEqual(['waiting']);
    stop('SIGTERM');
    const r = await running;

    expect(r.code).toBe(0);
    expect(events).toEqual(['waiting', 'closed']);
    const { print, ...passed } = calls[0] ?? {};
    expect(typeof print).toBe('function');
    expect(passed).toEqual({ policyPath: 'p.yaml', port: 8080, demo: true });
    expect(r.stdout).toBe('Stint listening on http://127.0.0.1:8080\n');
    expect(r.stderr).toContain('SIGTERM');
  });

  it('refuses a port out of range without starting anything', async () => {
    let started = false;
    const r = await run(['server', '--port', '70000'], {
      local: {
        runServer: async () => {
          started = true;
          throw new Error('unreachable');
        },
      },
    });
    expect(r.code).toBe(2);
    expect(started).toBe(false);
  });

  it('shows a start-up failure with its code', async () => {
    const { StintError } = await import('../../src/domain/errors.js');
    const r = await run(['server'], {
      local: {
        runServer: async () => {
          throw new StintError('BAD_REQUEST', 'STINT_POLICY is not set');
        },
      },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error [BAD_REQUEST]: STINT_POLICY is not set\n');
  });
});

describe('stint admin token create', () => {
  it('creates the token through the store and prints it once with a warning', async () => {
    const calls: CreateTokenOptions[] = [];
    const r = await run(
      ['admin', 'token', 'create', '--user', 'alice', '--name', 'laptop', '--db', 'sqlite:x.db'],
      {
        local: {
          createApiToken: async (opts) => {
            calls.push(opts);
            return { id: 'tok123', token: 'stint_tok123.s3cr3t' };
          },
        },
      },
    );
    expect(r.code).toBe(0);
    expect(calls).toEqual([{ userId: 'alice', name: 'laptop', databaseUrl: 'sqlite:x.db' }]);
    expect(r.stdout).toMatch(/^token: +stint_tok123\.s3cr3t$/m);
    expect(r.stdout).toMatch(/^token id: +tok123$/m);
    expect(r.stderr).toContain('will not be shown again');
  });

  it('names the token after the date when --name is absent', async () => {
    const calls: CreateTokenOptions[] = [];
    await run(['admin', 'token', 'create', '--user', 'bob'], {
      local: {
        createApiToken: async (opts) => {
          calls.push(opts);
          return { id: 't', token: 'x' };
        },
      },
    });
    expect(calls[0]?.name).toBe('cli 2025-06-01');
  });

  it('needs --user', async () => {
    const r = await run(['admin', 'token', 'create']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("required option '--user <id>' not specified");
  });

  it('shows UNKNOWN_USER from the store', async () => {
    const { StintError } = await import('../../src/domain/errors.js');
    const r = await run(['admin', 'token', 'create', '--user', 'zed'], {
      local: {
        createApiToken: async () => {
          throw new StintError('UNKNOWN_USER', 'zed is not in the directory of stint.yaml');
        },
      },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error [UNKNOWN_USER]: zed is not in the directory of stint.yaml\n');
  });
});
