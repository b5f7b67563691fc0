import { describe, expect, it } from 'vitest';
import { evaluateRequest } from '../../src/policy/policy-evaluator.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import { lineOf, policyText, problemAt, problemsOf, stintErrorOf } from './fixtures.js';

/** On call is a directory fact; a rule with `who.onCall: true` lets only those of its people on call ask. */
describe('on call', () => {
  // bob is on call; alice (same team, same manager) is not. prod-db-admin asks for it.
  const text = policyText((p) => {
    p.users[1].onCall = true;
    p.rules[0].who = { teams: ['payments'], onCall: true };
  });
  const policy = parsePolicy(text, 'stint.yaml');
  const ask = (requester: string) =>
    evaluateRequest(policy, { requester, resource: 'prod-db', role: 'admin', reason: 'INC-1' });

  it('is read from the YAML users, off by default', () => {
    expect(policy.users.get('bob')?.onCall).toBe(true);
    expect(policy.users.get('alice')?.onCall).toBe(false);
    expect(policy.rules[0]?.eligible).toEqual({ users: [], teams: ['payments'], onCall: true });
    expect(policy.rules[1]?.eligible.onCall).toBe(false);
  });

  it('admits someone on call and refuses a teammate who is not with NOT_ELIGIBLE, naming why', () => {
    expect(ask('bob').ruleId).toBe('prod-db-admin');
    expect(stintErrorOf(() => ask('alice'))).toMatchObject({
      code: 'NOT_ELIGIBLE',
      message: 'rule prod-db-admin lets only people on call request prod-db/admin, and alice is not on call',
    });
  });

  it('still needs the team or the user: being on call alone is not enough', () => {
    const p = parsePolicy(
      policyText((d) => {
        d.users[4].onCall = true; // sam, security, not in payments
        d.rules[0].who = { teams: ['payments'], onCall: true };
      }),
      'stint.yaml',
    );
    const e = stintErrorOf(() =>
      evaluateRequest(p, { requester: 'sam', resource: 'prod-db', role: 'admin', reason: 'INC-1' }),
    );
    expect(e).toMatchObject({
      code: 'NOT_ELIGIBLE',
      message: 'no policy rule lets sam request prod-db/admin',
    });
  });

  it('refuses bad values, located', () => {
    const bad = policyText((p) => {
      p.users[0].onCall = 'yes';
      p.rules[0].who.onCall = false;
      p.rules[1].who.onCall = 'true';
    });
    const problems = problemsOf(bad);
    expect(problemAt(problems, 'users[0].onCall').message).toBe('expected true or false, got text');
    const off = problemAt(problems, 'rules[0].who.onCall');
    expect(off.message).toBe('must be true (only people on call may ask) or left out');
    expect(off.line).toBe(lineOf(bad, 'onCall: false'));
    expect(problemAt(problems, 'rules[1].who.onCall').message).toContain('must be true');
  });
});
