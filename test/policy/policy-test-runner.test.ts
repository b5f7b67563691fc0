import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PolicyError } from '../../src/policy/policy-error.js';
import { loadPolicyFile } from '../../src/policy/policy-loader.js';
import { runPolicyTests } from '../../src/policy/policy-test-runner.js';
import { basePolicy, lineOf, problemAt } from './fixtures.js';

const policy = basePolicy();

const run = (text: string) => runPolicyTests(policy, text, 'stint.test.yaml');

function problemsOf(text: string) {
  try {
    run(text);
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyError);
    return (e as PolicyError).problems;
  }
  throw new Error('expected the test file to be refused');
}

describe('the examples', () => {
  it('examples/stint.test.yaml passes against examples/stint.yaml', () => {
    const path = new URL('../../examples/stint.test.yaml', import.meta.url).pathname;
    const demo = loadPolicyFile(new URL('../../examples/stint.yaml', import.meta.url).pathname);
    const results = runPolicyTests(demo, readFileSync(path, 'utf8'), path);
    expect(results.length).toBeGreaterThanOrEqual(6);
    expect(results.filter((r) => !r.passed)).toEqual([]);
  });

  it('the quick start: alice asking prod-db admin for 2h waits for carol, her manager', () => {
    const demo = loadPolicyFile(new URL('../../examples/stint.yaml', import.meta.url).pathname);
    const [result] = runPolicyTests(
      demo,
      `tests:
  - name: quick start
    request: { user: alice, resource: prod-db, role: admin, for: 2h, reason: INC-4821 }
    expect: { approval: [manager], approvers: [carol], notApprovers: [bob, sam, dave, erin, admin] }
`,
      'quick.yaml',
    );
    expect(result).toMatchObject({ passed: true });
  });
});

describe('runPolicyTests', () => {
  it('passes matching cases and says what happened', () => {
    const text = `tests:
  - name: alice asks prod-db/admin for 2h
    request: { user: alice, resource: prod-db, role: admin, for: 2h, reason: INC-4821 }
    expect: { rule: prod-db-admin, approval: [two-person, manager], approvers: [carol, sam], duration: 2h }
  - name: erin cannot ask
    request: { user: erin, resource: prod-db, role: admin, reason: INC-1 }
    expect: { error: NOT_ELIGIBLE, message: no policy rule }
  - name: allowed, nothing more asserted
    request: { user: bob, resource: staging-db, role: read, reason: checking }
    expect: {}
`;
    expect(run(text)).toEqual([
      {
        name: 'alice asks prod-db/admin for 2h',
        passed: true,
        line: 2,
        message: expect.stringContaining('allowed by rule prod-db-admin for 2h, manager + two-person'),
      },
      {
        name: 'erin cannot ask',
        passed: true,
        line: lineOf(text, 'erin cannot ask'),
        message: 'NOT_ELIGIBLE: no policy rule lets erin request prod-db/admin',
      },
      {
        name: 'allowed, nothing more asserted',
        passed: true,
        line: lineOf(text, 'nothing more'),
        message: 'allowed by rule staging for 30m, auto (approved at once)',
      },
    ]);
  });

  it('fails a case on every mismatch, saying which', () => {
    const results = run(`tests:
  - name: wrong expectations
    request: { user: alice, resource: prod-db, role: admin, for: 2h, reason: INC-4821 }
    expect: { rule: prod-db-read, approval: [manager], approvers: [carol, alice, erin-typo], notApprovers: [sam], duration: 1h }
`);
    expect(results).toHaveLength(1);
    const [r] = results;
    expect(r?.passed).toBe(false);
    expect(r?.message.split('; ')).toEqual([
      'expected rule prod-db-read, matched prod-db-admin',
      'expected approval [manager], got [manager, two-person]',
      'expected duration 1h, got 2h',
      'alice, erin-typo may not approve (approvers: bob, carol, dave, erin, nina, root, sam)',
      'sam may approve, expected not to',
    ]);
  });

  it('fails when an error was expected and the request was allowed, and the other way round', () => {
    const results = run(`tests:
  - name: expected an error
    request: { user: alice, resource: prod-db, role: read, reason: x }
    expect: { error: NOT_ELIGIBLE }
  - name: expected allowed
    request: { user: alice, resource: prod-db, role: admin, reason: not a ticket }
    expect: { approval: [manager, two-person] }
  - name: another error
    request: { user: alice, resource: prod-db, role: admin, for: 9h, reason: INC-1 }
    expect: { error: TICKET_MALFORMED }
  - name: right error, wrong words
    request: { user: alice, resource: prod-db, role: admin, for: 9h, reason: INC-1 }
    expect: { error: DURATION_TOO_LONG, message: at most 8h }
`);
    expect(results.map((r) => r.passed)).toEqual([false, false, false, false]);
    expect(results[0]?.message).toMatch(
      /^expected NOT_ELIGIBLE, but the request was allowed by rule prod-db-read/,
    );
    expect(results[1]?.message).toMatch(/^expected the request to be allowed, got TICKET_MALFORMED: /);
    expect(results[2]?.message).toMatch(/^expected TICKET_MALFORMED, got DURATION_TOO_LONG: /);
    expect(results[3]?.message).toMatch(
      /^expected the message to contain "at most 8h", got DURATION_TOO_LONG: .*at most 4h/,
    );
  });

  it('parses for: as the CLI does, so a bad duration is the INVALID_DURATION a user would get', () => {
    const [r] = run(`tests:
  - name: zero
    request: { user: alice, resource: prod-db, role: admin, for: 0m, reason: INC-1 }
    expect: { error: INVALID_DURATION }
`);
    expect(r?.passed).toBe(true);
  });
});

describe('runPolicyTests: the test file is checked strictly', () => {
  it('locates an unknown field', () => {
    const text = `tests:
  - name: typo
    request: { user: alice, resource: prod-db, role: admin, reason: INC-1 }
    expct: { error: NOT_ELIGIBLE }
`;
    const problems = problemsOf(text);
    expect(problemAt(problems, 'tests[0].expct')).toEqual({
      file: 'stint.test.yaml',
      line: 4,
      column: 5,
      field: 'tests[0].expct',
      message: 'unknown field "expct" (did you mean "expect"?)',
    });
    expect(problemAt(problems, 'tests[0].expect').message).toBe('required field is missing');
  });

  it('refuses an unknown error code and an unknown tier', () => {
    const problems = problemsOf(`tests:
  - name: a
    request: { user: alice, resource: prod-db, role: admin, reason: INC-1 }
    expect: { error: NOT_ELIGABLE }
  - name: b
    request: { user: alice, resource: prod-db, role: admin, reason: INC-1 }
    expect: { approval: [boss] }
`);
    expect(problemAt(problems, 'tests[0].expect.error')).toMatchObject({
      line: 4,
      message: expect.stringContaining('NOT_ELIGIBLE'),
    });
    expect(problemAt(problems, 'tests[1].expect.approval[0]').line).toBe(7);
  });

  it('refuses contradictions and duplicate names', () => {
    const problems = problemsOf(`tests:
  - name: same
    request: { user: alice, resource: prod-db, role: admin, reason: INC-1 }
    expect: { error: NOT_ELIGIBLE, approvers: [carol] }
  - name: same
    request: { user: alice, resource: prod-db, role: admin, reason: INC-1 }
    expect: { message: nope, approvers: [carol], notApprovers: [carol] }
`);
    expect(problemAt(problems, 'tests[0].expect.approvers').message).toBe(
      'a case that expects an error cannot also expect a decision',
    );
    expect(problemAt(problems, 'tests[1].name')).toMatchObject({
      line: 5,
      message: 'duplicate test name (first is tests[0])',
    });
    expect(problemAt(problems, 'tests[1].expect.message').message).toBe(
      'message is checked against an expected error',
    );
    expect(problemAt(problems, 'tests[1].expect.notApprovers').message).toBe(
      'listed as approver and not: carol',
    );
  });

  it('locates YAML syntax errors in the test file', () => {
    const [p] = problemsOf('tests:\n  - name: "unterminated\n');
    expect(p).toMatchObject({ file: 'stint.test.yaml', message: expect.stringMatching(/^invalid YAML/) });
  });
});
