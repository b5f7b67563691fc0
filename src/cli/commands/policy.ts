import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { formatProblem, isPolicyError } from '../../policy/policy-error.js';
import type { PolicyTestResult } from '../../policy/policy-test-runner.js';
import type { Policy, PolicyProblem } from '../../policy/policy-types.js';
import { CliError, usageError } from '../cli-error.js';
import type { CliContext } from '../context.js';
import type { Output } from '../output.js';

function unreadable(path: string, e: unknown): CliError | undefined {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return undefined;
  return new CliError('FILE_UNREADABLE', `cannot read ${path}: ${(e as Error).message}`);
}

/** Problems go out compiler-style (`file:line:column: …` at the start of a line) so editors and CI can jump. */
function reportProblems(out: Output, problems: readonly PolicyProblem[], what: string): CliError {
  if (out.json) out.line(JSON.stringify({ ok: false, problems }, null, 2));
  else for (const p of problems) out.note(formatProblem(p));
  const n = problems.length;
  return new CliError('POLICY_INVALID', `${n} problem${n === 1 ? '' : 's'} in ${what}`);
}

/** Runs a policy-module call, turning its located problems and unreadable files into CLI errors. */
async function guarded<T>(out: Output, path: string, run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (isPolicyError(e)) throw reportProblems(out, e.problems, path);
    throw unreadable(path, e) ?? e;
  }
}

/** A policy file checked as the server checks it; problems reported `file:line:col` (also `stint inventory`'s). */
export async function loadPolicy(out: Output, path: string): Promise<Policy> {
  const { loadPolicyFile } = await import('../../policy/policy-loader.js');
  const { BUILTIN_KINDS } = await import('../../providers/kinds.js');
  // Checked as the server checks it: each resource against its kind's options and grants.
  return guarded(out, path, () => loadPolicyFile(path, BUILTIN_KINDS));
}

function summary(policy: Policy) {
  return {
    ok: true,
    version: policy.version,
    users: policy.users.size,
    resources: policy.resources.size,
    rules: policy.rules.length,
  };
}

export function registerPolicy(program: Command, ctx: CliContext): void {
  const policy = program.command('policy').description('check and test policy files (local, no server)');

  policy
    .command('check')
    .description('validate a policy file')
    .argument('<file>', 'policy YAML, e.g. stint.yaml')
    .option('--live', "also reach every resource's target with Stint's admin credential (creates nothing)")
    .action(async (file: string, opts: { live?: boolean }, cmd: Command) => {
      const out = ctx.output(cmd);
      const loaded = await loadPolicy(out, file);
      const { checkTargetsLive } = await import('./policy-live.js');
      const targets = opts.live ? await checkTargetsLive(loaded, ctx.io.env) : undefined;
      const failed = targets?.filter((t) => !t.ok) ?? [];
      const s = {
        ...summary(loaded),
        ok: failed.length === 0,
        notes: loaded.notes,
        ...(targets ? { targets } : {}),
      };
      out.result(s, () => {
        out.line(
          `policy OK: ${s.users} users, ${s.resources} resources, ${s.rules} rules (version ${s.version})`,
        );
        // Legal but probably not meant (a rule nobody can get approved under, a resource no rule covers).
        for (const n of loaded.notes) out.note(`note: ${formatProblem(n)}`);
        for (const t of targets ?? []) {
          out.line(
            t.ok
              ? `✓ ${t.resource} (${t.kind}): ${t.target}`
              : `✗ ${t.resource} (${t.kind}): ${t.code}${t.class ? ` (${t.class})` : ''}: ${t.message}`,
          );
        }
      });
      if (failed.length > 0) {
        const first = failed[0];
        throw new CliError(
          first?.code ?? 'PROVIDER_ERROR',
          `${failed.length} of ${targets?.length} target(s) cannot be reached as Stint's admin`,
        );
      }
    });

  policy
    .command('test')
    .description('run policy test cases against a policy file')
    .argument('<tests>', 'test cases YAML')
    .option('--policy <file>', 'policy YAML (env STINT_POLICY)')
    .action(async (testsFile: string, opts: { policy?: string }, cmd: Command) => {
      const policyFile = opts.policy ?? ctx.io.env.STINT_POLICY;
      if (!policyFile) throw usageError('policy test needs --policy <file> (or STINT_POLICY)');
      const out = ctx.output(cmd);
      const loaded = await loadPolicy(out, policyFile);
      const text = await guarded(out, testsFile, () => readFile(testsFile, 'utf8'));
      const { runPolicyTests } = await import('../../policy/policy-test-runner.js');
      const results: PolicyTestResult[] = await guarded(out, testsFile, () =>
        runPolicyTests(loaded, text, testsFile),
      );
      const failed = results.filter((r) => !r.passed).length;
      out.result({ ok: failed === 0 && results.length > 0, results }, () => {
        for (const r of results) {
          out.line(r.passed ? `✓ ${r.name}` : `✗ ${r.name} (${testsFile}:${r.line}): ${r.message}`);
        }
        if (failed === 0 && results.length > 0) out.line(`${results.length} passed`);
      });
      // An empty test file passing silently would hide a broken path or a typo in CI.
      if (results.length === 0) throw new CliError('TESTS_FAILED', `no test cases in ${testsFile}`);
      if (failed > 0) {
        throw new CliError('TESTS_FAILED', `${failed} of ${results.length} policy tests failed`);
      }
    });
}
