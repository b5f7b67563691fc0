import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { isStintError } from '../../src/domain/errors.js';
import { TIERS, type Tier } from '../../src/domain/request.js';
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

/** One rule open to everyone, over one routine resource, so only the tiers decide. */
function policyOf(users: Map<string, DirectoryUser>, approval: Tier[]): Policy {
  return {
    version: 'test',
    source: '',
    settings: {
      deployment: 'stint',
      hardCapSeconds: 8 * 3600,
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

  it('evaluateRequest either decides with the requester outside every slot, or refuses as NOT_ELIGIBLE', () => {
    fc.assert(
      fc.property(directory, tiers, fc.nat(), (spec, approval, pick) => {
        const users = toUsers(spec);
        const requester = `u${pick % spec.length}`;
        const input = { requester, resource: 'db', role: 'read', reason: 'because' };
        try {
          const decision = evaluateRequest(policyOf(users, approval), input);
          for (const slot of decision.slots) {
            expect(slot.eligible).not.toContain(requester);
            expect(slot.eligible.length).toBeGreaterThan(0);
          }
        } catch (e) {
          if (!isStintError(e) || e.code !== 'NOT_ELIGIBLE') throw e;
        }
      }),
      { numRuns: 500 },
    );
  });

  it('holds for directories that went through the YAML loader too', () => {
    fc.assert(
      fc.property(directory, tiers, fc.nat(), (spec, approval, pick) => {
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
        const requester = `u${pick % spec.length}`;
        try {
          const d = evaluateRequest(policy, { requester, resource: 'staging-db', role: 'read', reason: 'x' });
          for (const slot of d.slots) expect(slot.eligible).not.toContain(requester);
        } catch (e) {
          if (!isStintError(e) || e.code !== 'NOT_ELIGIBLE') throw e;
        }
      }),
      { numRuns: 100 },
    );
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
