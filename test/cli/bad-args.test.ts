import type { Command } from 'commander';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { run } from './support.js';

/** Nothing listens on port 1: a command that gets past its own checks fails fast as UNREACHABLE. */
const env = { STINT_URL: 'http://127.0.0.1:1', STINT_TOKEN: 'stint_test_token' };
const ERROR_LINE = /^error \[[A-Z_]+\]: \S/m;
const USAGE_LINE = /^error \[USAGE\]: \S/m;

interface Leaf {
  path: string[];
  command: Command;
}

async function commands(): Promise<{ leaves: Leaf[]; groups: string[][] }> {
  const program = await buildProgram({
    stdout: { write: () => true },
    stderr: { write: () => true },
    env: {},
  } as never);
  const leaves: Leaf[] = [];
  const groups: string[][] = [];
  const walk = (c: Command, path: string[]) => {
    for (const sub of c.commands) {
      const p = [...path, sub.name()];
      if (sub.commands.length > 0) {
        groups.push(p);
        walk(sub, p);
      } else leaves.push({ path: p, command: sub });
    }
  };
  walk(program, []);
  return { leaves, groups };
}

const { leaves, groups } = await commands();
const requiredArgs = (c: Command) => c.registeredArguments.filter((a) => a.required).map(() => 'x');
const mandatory = (c: Command) =>
  c.options.filter((o) => o.mandatory).flatMap((o) => [o.long ?? o.short ?? '', 'x']);

/** Commands that start something long-lived or touch local files on success: only their usage is fuzzed. */
const LOCAL = new Set([
  'server',
  'admin token create',
  'admin token revoke',
  'admin session create',
  'audit key',
  'audit tail',
  'login',
]);

describe('every CLI command refuses bad arguments with `error [CODE]: …` and a non-zero exit', () => {
  it('walks the whole command tree', () => {
    expect(leaves.length).toBeGreaterThan(25);
    expect(leaves.map((l) => l.path.join(' '))).toContain('request');
  });

  for (const { path, command } of leaves) {
    const name = path.join(' ');
    const args = requiredArgs(command);
    const opts = mandatory(command);

    it(`${name}: an unknown option, too many arguments, a missing argument or option`, async () => {
      const cases: string[][] = [[...path, ...args, ...opts, '--no-such-option']];
      if (!command.registeredArguments.some((a) => a.variadic)) {
        cases.push([...path, ...args, 'extra-1', 'extra-2', 'extra-3', ...opts]);
      }
      if (args.length > 0) cases.push([...path, ...opts]);
      for (const o of command.options.filter((x) => x.mandatory)) {
        const others = command.options
          .filter((x) => x.mandatory && x !== o)
          .flatMap((x) => [x.long ?? '', 'x']);
        cases.push([...path, ...args, ...others]);
      }
      for (const o of command.options.filter((x) => x.required && !x.variadic)) {
        // An option that takes a value, given none: last on the line.
        cases.push([...path, ...args, ...opts, o.long ?? o.short ?? '']);
      }
      for (const argv of cases) {
        const r = await run(argv, { env });
        expect(r.code, `${argv.join(' ')}\n${r.stderr}`).toBe(2);
        expect(r.stderr, argv.join(' ')).toMatch(USAGE_LINE);
        expect(r.stdout).toBe('');
      }
    });

    if (LOCAL.has(name)) continue;
    it(`${name}: generated argument and option values end in a coded error (fast-check)`, async () => {
      const valueOptions = command.options.filter((o) => o.required);
      const value = fc.oneof(
        fc.string(),
        fc.string({ unit: 'grapheme', maxLength: 50 }),
        fc.constantFrom(
          '',
          '-1',
          '0',
          '1e400',
          'x'.repeat(10_000),
          '\u0000',
          '../../etc/passwd',
          '--',
          '99999999999',
        ),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(value, { minLength: args.length, maxLength: args.length }),
          fc.array(fc.tuple(fc.constantFrom(...(valueOptions.length ? valueOptions : [null])), value), {
            maxLength: 3,
          }),
          async (argValues, optionValues) => {
            const given = optionValues.flatMap(([o, v]) => (o ? [`${o.long}=${v}`] : []));
            const withMandatory = command.options
              .filter((o) => o.mandatory && !given.some((g) => g.startsWith(`${o.long}=`)))
              .flatMap((o) => [`${o.long}=x`]);
            const argv = [...path, ...given, ...withMandatory, '--', ...argValues];
            const r = await run(argv, { env });
            expect(r.code, `${JSON.stringify(argv).slice(0, 300)}\n${r.stderr}`).not.toBe(0);
            expect(r.stderr, JSON.stringify(argv).slice(0, 300)).toMatch(ERROR_LINE);
            expect(r.stderr).not.toMatch(/error \[INTERNAL\]/);
          },
        ),
        { numRuns: 12, seed: 16 },
      );
    });
  }

  for (const group of groups) {
    it(`${group.join(' ')} without its subcommand says so`, async () => {
      const r = await run(group, { env });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(USAGE_LINE);
    });
  }
});
