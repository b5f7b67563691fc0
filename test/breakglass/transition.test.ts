import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StintError } from '../../src/domain/errors.js';
import { REQUEST_STATES, type RequestTier } from '../../src/domain/request.js';
import { activate, expire, invoked, review, revoke, withdraw } from '../../src/domain/state-machine.js';
import { at, makeRequest, slot, T0 } from '../domain/fixtures.js';

const breakglass = (overrides = {}) =>
  makeRequest({
    tiers: ['breakglass'],
    slots: [],
    pendingUntil: T0,
    ruleId: 'breakglass:prod',
    ...overrides,
  });

describe('the break-glass path through the state machine', () => {
  it('starts approved without review, saying so, and then runs like any grant (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 60, max: 3600 }),
        fc.integer({ min: 0, max: 1000 }),
        (duration, later) => {
          const request = breakglass({ durationSeconds: duration });
          const before = structuredClone(request);
          const out = invoked(request);
          expect(request).toEqual(before);
          expect(out.map((t) => t.action)).toEqual(['request.created', 'request.approved']);
          const approved = out[1]?.request;
          expect(approved).toMatchObject({
            state: 'approved',
            approvedAt: T0,
            reviews: [],
            slots: [],
            version: 2,
          });
          expect(out[1]?.details).toEqual({ tier: 'breakglass', review: 'required' });
          expect(out[1]?.actor).toBe('stint');
          // Nobody can review it; it is activated, expires and is revoked as any approved request is.
          if (!approved) throw new Error('no approval');
          expect(() => review(approved, 'bob', 'approve', '', at(1))).toThrow(StintError);
          const active = activate(approved, at(later)).request;
          expect(active.expiresAt?.getTime()).toBe(at(later).getTime() + duration * 1000);
          expect(expire(active, at(later + duration)).request.state).toBe('expired');
          expect(revoke(active, 'alice', 'done', at(later + 1)).request.state).toBe('revoked');
          expect(withdraw(approved, 'alice', '', at(1)).request.state).toBe('withdrawn');
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never approves anything else: other tiers, slots to fill, a request already on its way', () => {
    const cases = [
      breakglass({ tiers: ['peer'] as RequestTier[] }),
      breakglass({ tiers: ['breakglass', 'auto'] as RequestTier[] }),
      breakglass({ slots: [slot('security', ['sam'])] }),
      breakglass({ version: 2 }),
      ...REQUEST_STATES.filter((s) => s !== 'pending').map((state) => breakglass({ state })),
    ];
    for (const request of cases) {
      expect(() => invoked(request)).toThrow(/cannot skip approval/);
    }
  });
});
