import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { isStintError } from '../../src/domain/errors.js';
import { type ApprovalSlot, TIERS, type Tier } from '../../src/domain/request.js';
import { PolicyError } from '../../src/policy/policy-error.js';
import { approvalSlots, evaluateRequest } from '../../src/policy/policy-evaluator.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import type { DirectoryUser, Policy } from '../../src/policy/policy-types.js';
import { policyText } from './fixtures.js';

const TEAMS = ['t1', 't2', 't3'];
const APPROVING = TIERS.filter((t) => t !== 'auto');

/** A directory of 1–8 users u0…; managers may be anyone, the user themself included (only the loader forbids it). */
const directory = fc.integer({ min: 1, max: 8 }).chain((n) =>
  fc.array(
    fc.record({
      teams: fc.subarray(TEAMS),
      manager: fc.option(fc.nat({ max: n - 1 }), { nil: null }),
      security: fc.boolean(),
    }),
    { minLength: n, maxLength: n },
  ),
);

const toUsers = (spec: { teams: string[]; manager: number | null; security: boolean }[]) =>
  new Map<string, DirectoryUser>(
    spec.map((s, i) => [
      `u${i}`,
      {
        id: `u${i}`,
        email: `u${i}@example.com`,
        name: `U${i}`,
        manager: s.manager === null ? null : `u${s.manager}`,
        teams: s.teams,
        security: s.security,
        admin: false,
        auditor: false,
        onCall: false,
      },
    ]),
  );

const tiers = fc.oneof(
  fc.constant<Tier[]>(['auto']),
  fc.subarray(APPROVING, { minLength: 1 }).map((t) => t as Tier[]),
);

type UserSpec = { teams: string[]; manager: number | null; security: boolean };

/** Any directory, requester and tiers: some can be approved, some cannot. */
const anyCase = fc
  .tuple(directory, tiers, fc.nat())
  .map(([spec, approval, pick]) => ({ spec, approval, requester: pick % spec.length }));

/**
 * A case that can always be approved, whatever the tiers: the requester gets a manager, a teammate and two
 * security members besides a fifth person, so even peer + manager + security + two-person (five slots) find five
 * different people. The rest of the directory stays random.
 */
const approvableCase = anyCase.map(({ spec, approval, requester }) => {
  const at = spec.length;
  const own = spec[requester] as UserSpec;
  const teams = own.teams.length > 0 ? own.teams : ['t1'];
  const users: UserSpec[] = spec.map((s, i) => (i === requester ? { ...s, teams, manager: at } : s));
  users.push(
    { teams: [], manager: null, security: false }, // the manager
    { teams: [teams[0] as string], manager: null, security: false }, // a peer
    { teams: [], manager: null, security: true },
    { teams: [], manager: null, security: true },
    { teams: [], manager: null, security: false },
  );
  return { spec: users, approval, requester };
});

/**
 * Whether distinct people other than the requester can fill every approval the tiers ask for, by trying every
 * assignment: an oracle written from the tiers' meaning, independent of approvalSlots and matchApprovers.
 */
function canBeApproved(users: Map<string, DirectoryUser>, requesterId: string, approval: Tier[]): boolean {
  const requester = users.get(requesterId) as DirectoryUser;
  const isSecurity = (u: DirectoryUser) => u.security;
  const fits: ((u: DirectoryUser) => boolean)[] = approval.flatMap((tier) => {
    if (tier === 'auto') return [];
    if (tier === 'peer') return [(u: DirectoryUser) => u.teams.some((t) => requester.teams.includes(t))];
    if (tier === 'manager') return [(u: DirectoryUser) => u.id === requester.manager];
    if (tier === 'security') return [isSecurity];
    if (tier === 'two-person') return [isSecurity, () => true]; // a security reviewer and anyone else
    throw new Error(`no oracle for tier ${tier satisfies never}`);
  });
  const others = [...users.values()].filter((u) => u.id !== requesterId);
  const taken = new Set<string>();
  const fill = (slot: number): boolean => {
    if (slot === fits.length) return true;
    for (const u of others) {
      if (taken.has(u.id) || !(fits[slot] as (u: DirectoryUser) => boolean)(u)) continue;
      taken.add(u.id);
      if (fill(slot + 1)) return true;
      taken.delete(u.id);
    }
    return false;
  };
  return fill(0);
}

/** One rule open to everyone, over one routine resource, so only the tiers decide. */
function policyOf(users: Map<string, DirectoryUser>, approval: Tier[]): Policy {
  return {
    version: 'test',
    source: '',
    settings: {
      deployment: 'stint',
      hardCapSeconds: 4 * 3600,
      pendingTimeoutSeconds: 86400,
      minDurationSeconds: 300,
      allowSharedDeploymentName: false,
    },
    users,
    resources: new Map([
      [
        'db',
        {
          id: 'db',
          kind: 'postgres',
          options: {},
          description: '',
          sensitivity: 'routine',
          connection: { env: 'DB' },
          roles: { read: { name: 'read', description: '', grants: ['r'] } },
        },
      ],
    ]),
    rules: [
      {
        id: 'all',
        description: '',
        resources: ['db'],
        roles: ['*'],
        eligible: { users: [...users.keys()], teams: [], onCall: false },
        minDurationSeconds: 300,
        defaultDurationSeconds: 3600,
        maxDurationSeconds: 3600,
        ticket: { required: false, patterns: [] },
        approval,
      },
    ],
    notes: [],
  };
}

describe('properties', () => {
  it('the requester is never eligible for any slot of their own request', () => {
    fc.assert(
      fc.property(directory, tiers, fc.nat(), (spec, approval, pick) => {
        const users = toUsers(spec);
        const requester = `u${pick % spec.length}`;
        const slots = approvalSlots(users, users.get(requester) as DirectoryUser, approval);
        for (const slot of slots) {
          expect(slot.eligible).not.toContain(requester);
          expect(slot.eligible).toEqual([...new Set(slot.eligible)].sort());
          for (const id of slot.eligible) expect(users.has(id)).toBe(true);
        }
        expect(slots.length).toBe(
          approval.filter((t) => t !== 'auto').length + (approval.includes('two-person') ? 1 : 0),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('evaluateRequest decides exactly when distinct people can fill every approval, never with the requester', () => {
    const seen = { decided: 0, refused: 0 };
    fc.assert(
      fc.property(fc.oneof(anyCase, approvableCase), ({ spec, approval, requester: pick }) => {
        const users = toUsers(spec);
        const requester = `u${pick}`;
        const input = { requester, resource: 'db', role: 'read', reason: 'because' };
        const approvable = canBeApproved(users, requester, approval);
        let decision: ReturnType<typeof evaluateRequest> | undefined;
        try {
          decision = evaluateRequest(policyOf(users, approval), input);
        } catch (e) {
          if (!isStintError(e) || e.code !== 'NOT_ELIGIBLE') throw e;
        }
        expect(decision !== undefined, `decided ⇔ approvable (${approval.join(',')})`).toBe(approvable);
        if (decision === undefined) {
          seen.refused++;
          return;
        }
        seen.decided++;
        for (const slot of decision.slots) {
          expect(slot.eligible).not.toContain(requester);
          expect(slot.eligible.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 500 },
    );
    // Not vacuous: half the cases are approvable by construction, and random directories refuse some.
    expect(seen.decided).toBeGreaterThanOrEqual(200);
    expect(seen.refused).toBeGreaterThanOrEqual(25);
  });

  it('an approvable request is always decided, with approvers for every slot', () => {
    let decided = 0;
    fc.assert(
      fc.property(approvableCase, ({ spec, approval, requester: pick }) => {
        const users = toUsers(spec);
        const requester = `u${pick}`;
        const decision = evaluateRequest(policyOf(users, approval), {
          requester,
          resource: 'db',
          role: 'read',
          reason: 'because',
        });
        expect(decision.slots.length).toBe(
          approval.filter((t) => t !== 'auto').length + (approval.includes('two-person') ? 1 : 0),
        );
        for (const slot of decision.slots) {
          expect(slot.eligible).not.toContain(requester);
          expect(slot.eligible.length).toBeGreaterThan(0);
        }
        decided++;
      }),
      { numRuns: 300 },
    );
    expect(decided).toBe(300);
  });

  it('holds for directories that went through the YAML loader too', () => {
    const seen = { decided: 0, refused: 0 };
    fc.assert(
      fc.property(fc.oneof(anyCase, approvableCase), ({ spec, approval, requester: pick }) => {
        const text = policyText((p) => {
          p.users = spec.map((s, i) => ({
            id: `u${i}`,
            email: `u${i}@example.com`,
            teams: s.teams,
            security: s.security,
            // The loader refuses being your own manager, so those users have none here.
            ...(s.manager === null || s.manager === i ? {} : { manager: `u${s.manager}` }),
          }));
          p.rules = [
            {
              id: 'all',
              resources: ['staging-db'],
              roles: ['*'],
              who: { users: spec.map((_, i) => `u${i}`) },
              duration: { default: '1h', max: '2h' },
              approval,
            },
          ];
          p.resources = [p.resources[1]];
        });
        const policy = parsePolicy(text, 'stint.yaml');
        const requester = `u${pick}`;
        const approvable = canBeApproved(policy.users as Map<string, DirectoryUser>, requester, approval);
        let slots: ApprovalSlot[] | undefined;
        try {
          slots = evaluateRequest(policy, {
            requester,
            resource: 'staging-db',
            role: 'read',
            reason: 'x',
          }).slots;
        } catch (e) {
          if (!isStintError(e) || e.code !== 'NOT_ELIGIBLE') throw e;
        }
        expect(slots !== undefined).toBe(approvable);
        if (slots === undefined) {
          seen.refused++;
          return;
        }
        seen.decided++;
        for (const slot of slots) expect(slot.eligible).not.toContain(requester);
      }),
      { numRuns: 100 },
    );
    expect(seen.decided).toBeGreaterThanOrEqual(40);
    expect(seen.refused).toBeGreaterThanOrEqual(5);
  });

  it('parsePolicy returns a policy or throws a located PolicyError, whatever the text', () => {
    const base = policyText();
    const lines = base.split('\n');
    const mangled = fc.oneof(
      fc.string({ maxLength: 200 }),
      // Valid YAML of arbitrary shape.
      fc.jsonValue().map((v) => stringify(v)),
      // The valid policy with one line dropped, duplicated or cut short: near misses are the common case.
      fc
        .tuple(fc.nat({ max: lines.length - 1 }), fc.constantFrom('drop', 'dup', 'cut'), fc.nat())
        .map(([i, how, at]) => {
          const copy = [...lines];
          const line = copy[i] ?? '';
          if (how === 'drop') copy.splice(i, 1);
          else if (how === 'dup') copy.splice(i, 0, line);
          else copy[i] = line.slice(0, at % (line.length + 1));
          return copy.join('\n');
        }),
    );
    fc.assert(
      fc.property(mangled, (text) => {
        try {
          parsePolicy(text, 'fuzz.yaml');
        } catch (e) {
          expect(e).toBeInstanceOf(PolicyError);
          const lineCount = text.split('\n').length;
          for (const p of (e as PolicyError).problems) {
            expect(p.file).toBe('fuzz.yaml');
            expect(p.line).toBeGreaterThanOrEqual(1);
            expect(p.line).toBeLessThanOrEqual(lineCount);
            expect(p.column).toBeGreaterThanOrEqual(1);
            expect(p.message).not.toBe('');
          }
        }
      }),
      { numRuns: 400 },
    );
  });
});
