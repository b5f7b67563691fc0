import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMAND_TABLE, commandsFor } from '../../src/cli/command-table.js';
import { createContext } from '../../src/cli/context.js';
import { buildProgram } from '../../src/cli/program.js';
import { run } from './support.js';

const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: {} };
const names = (rows: typeof COMMAND_TABLE) => rows.flatMap((r) => r.names);

/**
 * A command line loads only the module of the command it names (issue 27). The table that maps names to modules
 * is written by hand, so these tests hold it to what the modules really register.
 */
describe('CLI command table', () => {
  it('each row names exactly the top-level commands its module registers', async () => {
    for (const row of COMMAND_TABLE) {
      const program = new Command('stint');
      (await row.load())(program, createContext(io));
      expect(program.commands.map((c) => c.name())).toEqual(row.names);
    }
  });

  it('the whole tree, as help lists it, is the table in order', async () => {
    const program = await buildProgram(io);
    expect(program.commands.map((c) => c.name())).toEqual(names(COMMAND_TABLE));
  });

  it('a command line reaches the row of its first operand, past the global options and their values', () => {
    expect(names(commandsFor(['request', 'db', '--role', 'r']))).toEqual(['request']);
    expect(names(commandsFor(['--json', '--url', 'http://x', 'approve', 'req_1']))).toEqual([
      'approve',
      'deny',
      'withdraw',
      'revoke',
    ]);
    expect(names(commandsFor(['--url=http://x', 'audit', 'verify']))).toEqual(['audit']);
    // `--token request` is the token's value: the command is whoami.
    expect(names(commandsFor(['--token', 'request', 'whoami']))).toEqual(['whoami']);
  });

  it('--version alone loads no command; help, no command, an unknown one or `--` load them all', () => {
    expect(commandsFor(['--version'])).toEqual([]);
    expect(commandsFor(['--json', '-V'])).toEqual([]);
    for (const argv of [
      [],
      ['--help'],
      ['-h', '--version'],
      ['help', 'request'],
      ['requst'],
      ['--', 'request'],
    ]) {
      expect(commandsFor(argv)).toBe(COMMAND_TABLE);
    }
  });

  it('a misspelt command is still answered with the one meant', async () => {
    const r = await run(['requst', 'db']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'requst'");
    expect(r.stderr).toContain('(Did you mean request?)');
  });

  it('a subcommand help, with only its module loaded, lists its options', async () => {
    const r = await run(['request', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--role <role>');
  });

  it('the bin entry answers --version before loading Commander, with what Commander prints', async () => {
    const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
    const viaCommander = await run(['--version']);
    for (const flag of ['--version', '-V']) {
      const direct = spawnSync(process.execPath, ['--import', 'tsx', main, flag], { encoding: 'utf8' });
      expect(direct.status).toBe(0);
      expect(direct.stderr).toBe('');
      expect(direct.stdout).toBe(viaCommander.stdout);
    }
    expect(viaCommander.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
