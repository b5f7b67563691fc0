/**
 * Policy tests: a policy change is reviewed like code, so it comes with cases that say what it must allow,
 * refuse, and route to whom. Each case is a request as a user would make it and what must come of it:
 *
 * ```yaml
 * tests:
 *   - name: alice asks prod-db/admin for 2h → manager approval
 *     request: { user: alice, resource: prod-db, role: admin, for: 2h, reason: INC-4821 }
 *     expect:
 *       approval: [manager]          # the tiers, in any order
 *       approvers: [carol]           # each may approve (fills some slot)
 *       notApprovers: [alice, bob]   # none may approve
 *       rule: prod-db-admin          # the rule that matched
 *       duration: 2h                 # the granted duration
 *   - name: sam cannot ask for prod-db admin
 *     request: { user: sam, resource: prod-db, role: admin, reason: INC-1 }   # for: absent → rule default
 *     expect: { error: NOT_ELIGIBLE, message: 'no policy rule' }            # message: a substring, optional
 * ```
 *
 * `expect: {}` asserts only that the request is allowed. `for` is parsed as the CLI would parse `--for`, so an
 * invalid duration shows up as the INVALID_DURATION the user would get. The file is checked as strictly as a
 * policy: an unknown field or a contradictory expectation is a located PolicyError, and no case runs.
 */
import { z } from 'zod';
import { formatDuration, parseDuration } from '../domain/duration.js';
import { ERROR_STATUS, type ErrorCode, isStintError, type StintError } from '../domain/errors.js';
import { TIERS } from '../domain/request.js';
import { eligibleApprovers, evaluateRequest } from './policy-evaluator.js';
import { durationSchema } from './policy-schema.js';
import type { Policy, PolicyDecision, PolicyProblem } from './policy-types.js';
import { type Path, parseWith, readYaml, strictObject, throwIfAny } from './yaml-source.js';

export interface PolicyTestResult {
  name: string;
  passed: boolean;
  /** What happened: the decision or error on a pass, every mismatch on a failure. */
  message: string;
  /** Line of the case in the test file. */
  line: number;
}

const ERROR_CODES = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];

const testCaseSchema = strictObject({
  name: z.string().min(1),
  request: strictObject({
    user: z.string(),
    resource: z.string(),
    role: z.string(),
    for: z.string().optional(),
    reason: z.string().default(''),
  }),
  expect: strictObject({
    error: z.enum(ERROR_CODES).optional(),
    message: z.string().min(1).optional(),
    rule: z.string().optional(),
    approval: z.array(z.enum(TIERS)).optional(),
    approvers: z.array(z.string()).optional(),
    notApprovers: z.array(z.string()).optional(),
    duration: durationSchema.optional(),
  }),
});

const testFileSchema = strictObject({ tests: z.array(testCaseSchema) });

type TestCase = z.output<typeof testCaseSchema>;

const DECISION_FIELDS = ['rule', 'approval', 'approvers', 'notApprovers', 'duration'] as const;

function checkCases(
  cases: TestCase[],
  problem: (path: Path, message: string) => PolicyProblem,
): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  const names = new Map<string, number>();
  cases.forEach((c, i) => {
    const first = names.get(c.name);
    if (first === undefined) names.set(c.name, i);
    else problems.push(problem(['tests', i, 'name'], `duplicate test name (first is tests[${first}])`));

    const expect = c.expect;
    if (expect.error !== undefined) {
      for (const field of DECISION_FIELDS) {
        if (expect[field] !== undefined) {
          problems.push(
            problem(
              ['tests', i, 'expect', field],
              'a case that expects an error cannot also expect a decision',
            ),
          );
        }
      }
    } else if (expect.message !== undefined) {
      problems.push(
        problem(['tests', i, 'expect', 'message'], 'message is checked against an expected error'),
      );
    }
    const both = (expect.approvers ?? []).filter((a) => expect.notApprovers?.includes(a));
    if (both.length > 0) {
      problems.push(
        problem(['tests', i, 'expect', 'notApprovers'], `listed as approver and not: ${both.join(', ')}`),
      );
    }
  });
  return problems;
}

type Outcome = { decision: PolicyDecision } | { error: StintError };

function attempt(policy: Policy, c: TestCase): Outcome {
  try {
    const durationSeconds = c.request.for === undefined ? undefined : parseDuration(c.request.for);
    return {
      decision: evaluateRequest(policy, {
        requester: c.request.user,
        resource: c.request.resource,
        role: c.request.role,
        reason: c.request.reason,
        ...(durationSeconds === undefined ? {} : { durationSeconds }),
      }),
    };
  } catch (e) {
    // Anything but a StintError is a bug in Stint, not a policy outcome: let it surface as one.
    if (!isStintError(e)) throw e;
    return { error: e };
  }
}

function list(items: readonly string[]): string {
  return items.length === 0 ? 'nobody' : items.join(', ');
}

function describeDecision(d: PolicyDecision): string {
  const approvers = eligibleApprovers(d);
  const who = d.slots.length === 0 ? 'approved at once' : `approvers: ${list(approvers)}`;
  return `allowed by rule ${d.ruleId} for ${formatDuration(d.durationSeconds)}, ${d.tiers.join(' + ')} (${who})`;
}

function judge(c: TestCase, outcome: Outcome): { passed: boolean; message: string } {
  const expect = c.expect;
  if ('error' in outcome) {
    const { error } = outcome;
    const got = `${error.code}: ${error.message}`;
    if (expect.error === undefined)
      return { passed: false, message: `expected the request to be allowed, got ${got}` };
    if (error.code !== expect.error)
      return { passed: false, message: `expected ${expect.error}, got ${got}` };
    if (expect.message !== undefined && !error.message.includes(expect.message)) {
      return { passed: false, message: `expected the message to contain "${expect.message}", got ${got}` };
    }
    return { passed: true, message: got };
  }

  const { decision } = outcome;
  if (expect.error !== undefined) {
    return {
      passed: false,
      message: `expected ${expect.error}, but the request was ${describeDecision(decision)}`,
    };
  }
  const failures: string[] = [];
  if (expect.rule !== undefined && decision.ruleId !== expect.rule) {
    failures.push(`expected rule ${expect.rule}, matched ${decision.ruleId}`);
  }
  if (expect.approval !== undefined) {
    const want = [...new Set(expect.approval)].sort();
    const got = [...new Set(decision.tiers)].sort();
    if (want.join() !== got.join()) {
      failures.push(`expected approval [${want.join(', ')}], got [${got.join(', ')}]`);
    }
  }
  if (expect.duration !== undefined && decision.durationSeconds !== expect.duration) {
    failures.push(
      `expected duration ${formatDuration(expect.duration)}, got ${formatDuration(decision.durationSeconds)}`,
    );
  }
  const eligible = eligibleApprovers(decision);
  const cannot = (expect.approvers ?? []).filter((a) => !eligible.includes(a));
  if (cannot.length > 0) failures.push(`${list(cannot)} may not approve (approvers: ${list(eligible)})`);
  const can = (expect.notApprovers ?? []).filter((a) => eligible.includes(a));
  if (can.length > 0) failures.push(`${list(can)} may approve, expected not to`);

  return failures.length === 0
    ? { passed: true, message: describeDecision(decision) }
    : { passed: false, message: failures.join('; ') };
}

/**
 * Runs the cases in `text` against `policy`, in file order. Throws PolicyError (located in `file`) when the
 * test file itself is invalid; a case that fails is a result, not an exception.
 */
export function runPolicyTests(policy: Policy, text: string, file: string): PolicyTestResult[] {
  const source = readYaml(text, file);
  const { tests } = parseWith(source, testFileSchema);
  throwIfAny(checkCases(tests, (path, message) => source.problem(path, message)));
  return tests.map((c, i) => ({
    name: c.name,
    ...judge(c, attempt(policy, c)),
    line: source.position(['tests', i]).line,
  }));
}
