import { describe, expect, it } from 'vitest';
import type { Tier } from '../../src/domain/request.js';
import {
  approvalSlots,
  eligibleApprovers,
  evaluateRequest,
  findRule,
} from '../../src/policy/policy-evaluator.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import type { DirectoryUser, Policy, RequestInput } from '../../src/policy/policy-types.js';
import { basePolicy, policyText, stintErrorOf } from './fixtures.js';

const policy = basePolicy();

const ask = (overrides: Partial<RequestInput> = {}, p: Policy = policy) =>
  evaluateRequest(p, {
    requester: 'alice',
    resource: 'prod-db',
    role: 'admin',
    reason: 'INC-4821',
    ...overrides,
  });

const errorOf = (overrides: Partial<RequestInput>, p: Policy = policy) =>
  stintErrorOf(() => ask(overrides, p));

const user = (id: string): DirectoryUser => policy.users.get(id) as DirectoryUser;

describe('evaluateRequest: a request the policy allows', () => {
  it('decides rule, tiers, slots and duration, and records the policy version', () => {
    expect(ask({ durationSeconds: 2 * 3600 })).toEqual({
      ruleId: 'prod-db-admin',
      policyVersion: policy.version,
      tiers: ['manager', 'two-person'],
      slots: [
        { tier: 'manager', label: 'manager', eligible: ['carol'] },
        { tier: 'two-person', label: 'security reviewer', eligible: ['dave', 'sam'] },
        {
          tier: 'two-person',
          label: 'second approver',
          eligible: ['bob', 'carol', 'dave', 'erin', 'nina', 'root', 'sam'],
        },
      ],
      durationSeconds: 2 * 3600,
      maxDurationSeconds: 4 * 3600,
    });
  });

  it("uses the rule's default duration when none is asked for", () => {
    expect(ask().durationSeconds).toBe(3600);
    expect(ask({ role: 'read' }).durationSeconds).toBe(2 * 3600);
  });

  it('accepts any of the ticket forms, ignoring surrounding blanks', () => {
    for (const reason of ['INC-1', 'CHG-99', 'https://tracker.example.com/T-5', '  INC-7  ']) {
      expect(ask({ reason }).ruleId).toBe('prod-db-admin');
    }
  });

  it('approves auto rules at once: no slots', () => {
    const d = ask({ resource: 'staging-db', role: 'write', reason: 'trying a migration' });
    expect(d).toMatchObject({ ruleId: 'staging', tiers: ['auto'], slots: [], durationSeconds: 30 * 60 });
  });

  it('lets the first matching rule in file order win', () => {
    const text = policyText((p) => {
      p.rules.unshift({
        id: 'nina-read',
        resources: ['prod-db'],
        roles: ['read'],
        who: { users: ['nina'] },
        duration: { default: '15m', max: '30m' },
        approval: ['security'],
      });
    });
    const ordered = parsePolicy(text, 'stint.yaml');
    expect(ask({ requester: 'nina', role: 'read', reason: 'x' }, ordered)).toMatchObject({
      ruleId: 'nina-read',
      tiers: ['security'],
    });
    // Everyone else falls through to the broader rule below it.
    expect(ask({ requester: 'bob', role: 'read', reason: 'x' }, ordered).ruleId).toBe('prod-db-read');
    expect(findRule(ordered, user('nina'), 'prod-db', 'read')?.id).toBe('nina-read');
  });

  it('matches "*" to every role of the listed resources', () => {
    expect(ask({ requester: 'sam', resource: 'staging-db', role: 'read', reason: 'x' }).ruleId).toBe(
      'staging',
    );
  });

  it('returns tiers the caller may change without changing the policy', () => {
    const d = ask();
    d.tiers.push('security');
    d.slots[0]?.eligible.push('mallory');
    const again = ask();
    expect(again.tiers).toEqual(['manager', 'two-person']);
    expect(again.slots[0]?.eligible).toEqual(['carol']);
  });
});

describe('evaluateRequest: refusals, by code', () => {
  it('UNKNOWN_USER for a requester outside the directory', () => {
    expect(errorOf({ requester: 'mallory' })).toMatchObject({
      code: 'UNKNOWN_USER',
      message: 'mallory is not in the directory',
    });
  });

  it('UNKNOWN_RESOURCE and UNKNOWN_ROLE', () => {
    expect(errorOf({ resource: 'prod-dbb' }).code).toBe('UNKNOWN_RESOURCE');
    expect(errorOf({ role: 'superuser' })).toMatchObject({
      code: 'UNKNOWN_ROLE',
      message: 'prod-db has no role superuser (roles: admin, read)',
    });
  });

  it('UNKNOWN_ROLE for names inherited from Object.prototype', () => {
    for (const role of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(errorOf({ role }).code).toBe('UNKNOWN_ROLE');
    }
  });

  it('NOT_ELIGIBLE when no rule lets the user ask: deny by default', () => {
    expect(errorOf({ requester: 'erin' })).toMatchObject({
      code: 'NOT_ELIGIBLE',
      message: 'no policy rule lets erin request prod-db/admin',
    });
    // sam may use staging, but no rule gives him prod-db.
    expect(errorOf({ requester: 'sam', role: 'read' }).code).toBe('NOT_ELIGIBLE');
  });

  it('INVALID_DURATION for zero, negative or fractional seconds', () => {
    for (const durationSeconds of [0, -60, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(errorOf({ durationSeconds }).code).toBe('INVALID_DURATION');
    }
  });

  it("DURATION_TOO_LONG above the rule's max, stating the cap", () => {
    expect(ask({ durationSeconds: 4 * 3600 }).durationSeconds).toBe(4 * 3600);
    const e = errorOf({ durationSeconds: 4 * 3600 + 1 });
    expect(e.code).toBe('DURATION_TOO_LONG');
    expect(e.message).toContain('at most 4h (rule prod-db-admin)');
    expect(e.details).toMatchObject({ maxDurationSeconds: 4 * 3600 });
  });

  it("DURATION_TOO_SHORT below the rule's minimum (settings.minDuration, 5m by default), stating it", () => {
    expect(ask({ durationSeconds: 5 * 60 }).durationSeconds).toBe(5 * 60);
    const e = errorOf({ durationSeconds: 1 });
    expect(e.code).toBe('DURATION_TOO_SHORT');
    expect(e.message).toBe(
      'prod-db/admin may be requested for at least 5m (rule prod-db-admin); asked for 1s',
    );
    expect(e.details).toMatchObject({ minDurationSeconds: 300, requestedSeconds: 1 });
    expect(errorOf({ durationSeconds: 5 * 60 - 1 }).code).toBe('DURATION_TOO_SHORT');
  });

  it('DURATION_TOO_LONG above the hard cap, even if a rule would allow more', () => {
    // The loader refuses such a rule; the evaluator holds the line anyway.
    const capped: Policy = { ...policy, settings: { ...policy.settings, hardCapSeconds: 3600 } };
    const e = errorOf({ durationSeconds: 2 * 3600 }, capped);
    expect(e.code).toBe('DURATION_TOO_LONG');
    expect(e.message).toContain('at most 1h (the hard cap of this deployment)');
    expect(ask({}, capped).maxDurationSeconds).toBe(3600);
  });

  it('TICKET_REQUIRED when the reason is empty, ticket or not', () => {
    expect(errorOf({ reason: '' })).toMatchObject({
      code: 'TICKET_REQUIRED',
      message: expect.stringContaining('ticket'),
    });
    expect(errorOf({ reason: '   ' }).code).toBe('TICKET_REQUIRED');
    // prod-db-read requires no ticket, but a request must still say why.
    expect(errorOf({ role: 'read', reason: '' })).toMatchObject({
      code: 'TICKET_REQUIRED',
      message: 'a reason is required: say why you need access',
    });
  });

  it('TICKET_MALFORMED when the reason matches no pattern, listing the accepted forms', () => {
    for (const reason of [
      'fixing stuff',
      'see INC-1',
      'INC-1 and more',
      'inc-1',
      'http://tracker.example.com/x',
    ]) {
      const e = errorOf({ reason });
      expect(e.code).toBe('TICKET_MALFORMED');
      expect(e.message).toContain('^INC-\\d+$, ^CHG-\\d+$, ^https://tracker\\.example\\.com/');
    }
  });
});

describe('approval tiers → slots', () => {
  const slotsFor = (requester: string, tiers: Tier[]) => approvalSlots(policy.users, user(requester), tiers);

  it('peer: the other members of any of the requester’s teams', () => {
    expect(slotsFor('alice', ['peer'])).toEqual([{ tier: 'peer', label: 'peer', eligible: ['bob', 'nina'] }]);
    // nina is in payments and search: teammates from both count, once each.
    expect(slotsFor('nina', ['peer'])[0]?.eligible).toEqual(['alice', 'bob']);
  });

  it("manager: the requester's manager", () => {
    expect(slotsFor('bob', ['manager'])).toEqual([
      { tier: 'manager', label: 'manager', eligible: ['carol'] },
    ]);
    expect(slotsFor('carol', ['manager'])[0]?.eligible).toEqual([]);
  });

  it('security: any security member but the requester', () => {
    expect(slotsFor('alice', ['security'])).toEqual([
      { tier: 'security', label: 'security reviewer', eligible: ['dave', 'sam'] },
    ]);
    expect(slotsFor('sam', ['security'])[0]?.eligible).toEqual(['dave']);
  });

  it('two-person: a security reviewer and a second approver from the whole directory', () => {
    const [first, second, ...rest] = slotsFor('dave', ['two-person']);
    expect(rest).toEqual([]);
    expect(first).toEqual({ tier: 'two-person', label: 'security reviewer', eligible: ['sam'] });
    expect(second).toEqual({
      tier: 'two-person',
      label: 'second approver',
      eligible: ['alice', 'bob', 'carol', 'erin', 'nina', 'root', 'sam'],
    });
  });

  it('auto: no slots', () => {
    expect(slotsFor('alice', ['auto'])).toEqual([]);
  });

  it('never lists the requester, and keeps every list sorted and without repeats', () => {
    const tiers: Tier[] = ['peer', 'manager', 'security', 'two-person'];
    for (const id of policy.users.keys()) {
      for (const slot of slotsFor(id, tiers)) {
        expect(slot.eligible).not.toContain(id);
        expect(slot.eligible).toEqual([...new Set(slot.eligible)].sort());
      }
    }
  });

  it('eligibleApprovers: everyone who fills some slot, sorted, once', () => {
    expect(eligibleApprovers(ask())).toEqual(['bob', 'carol', 'dave', 'erin', 'nina', 'root', 'sam']);
    expect(eligibleApprovers({ slots: [] })).toEqual([]);
  });
});

describe('NOT_ELIGIBLE when the request could never be approved', () => {
  it('names a requester without a manager', () => {
    // dave may ask (rule prod-db-admin names him) but the rule needs a manager he does not have.
    expect(errorOf({ requester: 'dave' })).toMatchObject({
      code: 'NOT_ELIGIBLE',
      message:
        'prod-db/admin could never be approved under rule prod-db-admin: dave has no manager in the directory',
      details: { ruleId: 'prod-db-admin' },
    });
  });

  const solo = (tiers: Tier[], users: object[]) =>
    parsePolicy(
      policyText((p) => {
        p.users = users;
        p.rules = [
          {
            id: 'r',
            resources: ['staging-db'],
            roles: ['*'],
            who: { users: ['ann'] },
            duration: { default: '1h', max: '2h' },
            approval: tiers,
          },
        ];
        p.resources = [p.resources[1]];
      }),
      'stint.yaml',
    );
  const askAnn = (p: Policy) =>
    stintErrorOf(() => ask({ requester: 'ann', resource: 'staging-db', role: 'read' }, p));

  it('names a requester without a teammate for a peer', () => {
    const p = solo(
      ['peer'],
      [
        { id: 'ann', email: 'ann@x.io', teams: ['lonely'] },
        { id: 'ben', email: 'ben@x.io' },
      ],
    );
    expect(askAnn(p).message).toContain('ann has no teammate in the directory');
  });

  it('refuses security approval when the requester is the only security member', () => {
    const p = solo(
      ['security'],
      [
        { id: 'ann', email: 'ann@x.io', security: true },
        { id: 'ben', email: 'ben@x.io' },
      ],
    );
    expect(askAnn(p)).toMatchObject({
      code: 'NOT_ELIGIBLE',
      message: expect.stringContaining('no security member other than ann'),
    });
  });

  it('refuses when the approvals need more distinct people than there are', () => {
    // ben is both ann's manager and the only security member: one person cannot fill two slots.
    const p = solo(
      ['manager', 'security'],
      [
        { id: 'ann', email: 'ann@x.io', manager: 'ben' },
        { id: 'ben', email: 'ben@x.io', security: true },
      ],
    );
    expect(p.notes.map((n) => n.message)).toEqual([
      expect.stringContaining('must come from different people'),
    ]);
    expect(askAnn(p)).toMatchObject({
      code: 'NOT_ELIGIBLE',
      message: expect.stringContaining('different people'),
    });
  });
});
