import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  approversOf,
  isEligibleReviewer,
  isSatisfied,
  matchApprovers,
  openSlots,
} from '../../src/domain/approval.js';
import type { Review } from '../../src/domain/request.js';
import { approve, bruteForceMaxMatching, makeRequest, slot } from './fixtures.js';

const deny = (reviewer: string): Review => ({ reviewer, decision: 'deny', comment: 'no', at: new Date(0) });

describe('matchApprovers', () => {
  it('fills both slots where greedy would not: A fits slots 1 and 2, B only slot 1', () => {
    const slots = [slot('security', ['A', 'B']), slot('two-person', ['A'])];
    // Greedy in arrival order gives A slot 0 and leaves B with nothing; augmenting moves A to slot 1.
    const matched = matchApprovers(slots, ['A', 'B']);
    expect(matched.size).toBe(2);
    expect(matched.get(0)).toBe('B');
    expect(matched.get(1)).toBe('A');
  });

  it('gives the same answer whatever order the approvers arrive in', () => {
    const slots = [slot('security', ['A', 'B']), slot('two-person', ['A'])];
    expect(matchApprovers(slots, ['B', 'A']).size).toBe(2);
  });

  it('lets one person fill at most one slot, even when eligible for several', () => {
    const slots = [slot('security', ['A']), slot('two-person', ['A', 'B'])];
    const matched = matchApprovers(slots, ['A']);
    expect(matched.size).toBe(1);
  });

  it('counts a person listed twice once', () => {
    const slots = [slot('security', ['A']), slot('two-person', ['A'])];
    expect(matchApprovers(slots, ['A', 'A']).size).toBe(1);
  });

  it('ignores approvers eligible for no slot', () => {
    expect(matchApprovers([slot('peer', ['A'])], ['Z']).size).toBe(0);
  });

  it('returns an empty assignment with no slots or no approvers', () => {
    expect(matchApprovers([], ['A']).size).toBe(0);
    expect(matchApprovers([slot('peer', ['A'])], []).size).toBe(0);
  });

  it('needs a chain of two re-assignments when the last approver arrives', () => {
    // C fits only slot 0, held by A, who must move to slot 1, held by B, who must move to slot 2.
    const slots = [slot('peer', ['A', 'C']), slot('manager', ['A', 'B']), slot('security', ['B'])];
    const matched = matchApprovers(slots, ['A', 'B', 'C']);
    expect(matched.size).toBe(3);
    expect(new Set(matched.values())).toEqual(new Set(['A', 'B', 'C']));
  });

  it('finds a largest assignment, agreeing with brute force', () => {
    const users = ['a', 'b', 'c', 'd', 'e'];
    fc.assert(
      fc.property(
        fc.array(fc.subarray(users), { maxLength: 4 }),
        fc.array(fc.constantFrom(...users), { maxLength: 6 }),
        (eligibleSets, approvers) => {
          const slots = eligibleSets.map((eligible) => slot('peer', eligible));
          const matched = matchApprovers(slots, approvers);
          expect(matched.size).toBe(bruteForceMaxMatching(slots, approvers));
          // Every assignment is to an eligible approver, and nobody holds two slots.
          for (const [i, person] of matched) {
            expect(slots[i]?.eligible).toContain(person);
            expect(approvers).toContain(person);
          }
          expect(new Set(matched.values()).size).toBe(matched.size);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('approversOf', () => {
  it('keeps approvals only, and never the requester', () => {
    const request = makeRequest({
      requester: 'alice',
      reviews: [approve('alice'), approve('bob'), deny('carol')],
    });
    expect(approversOf(request)).toEqual(['bob']);
  });
});

describe('isSatisfied', () => {
  it('is true for an auto request, which has no slots', () => {
    expect(isSatisfied(makeRequest({ slots: [], tiers: ['auto'] }))).toBe(true);
  });

  it('is false for a peer request with no reviews and true once an eligible peer approves', () => {
    const request = makeRequest({ slots: [slot('peer', ['bob', 'carol'])] });
    expect(isSatisfied(request)).toBe(false);
    expect(isSatisfied({ ...request, reviews: [approve('carol')] })).toBe(true);
  });

  it('does not count a deny as an approval', () => {
    const request = makeRequest({ slots: [slot('peer', ['bob'])], reviews: [deny('bob')] });
    expect(isSatisfied(request)).toBe(false);
  });

  it('does not count an approval by someone not eligible', () => {
    const request = makeRequest({ slots: [slot('peer', ['bob'])], reviews: [approve('mallory')] });
    expect(isSatisfied(request)).toBe(false);
  });

  it('never counts the requester, even when listed as eligible', () => {
    const request = makeRequest({
      requester: 'alice',
      slots: [slot('peer', ['alice', 'bob'])],
      reviews: [approve('alice')],
    });
    expect(isSatisfied(request)).toBe(false);
  });

  it('needs two distinct people for two-person, one of them from security', () => {
    const slots = [slot('two-person', ['sec'], 'security reviewer'), slot('two-person', ['sec', 'bob'])];
    expect(isSatisfied(makeRequest({ slots, reviews: [approve('sec')] }))).toBe(false);
    expect(isSatisfied(makeRequest({ slots, reviews: [approve('sec'), approve('sec')] }))).toBe(false);
    expect(isSatisfied(makeRequest({ slots, reviews: [approve('bob')] }))).toBe(false);
    expect(isSatisfied(makeRequest({ slots, reviews: [approve('bob'), approve('sec')] }))).toBe(true);
  });

  it('is satisfied in the greedy-fails case', () => {
    const slots = [slot('security', ['A', 'B']), slot('manager', ['A'])];
    expect(isSatisfied(makeRequest({ slots, reviews: [approve('A'), approve('B')] }))).toBe(true);
  });
});

describe('openSlots', () => {
  it('lists every slot before anyone approves', () => {
    const slots = [slot('manager', ['m']), slot('security', ['s'])];
    expect(openSlots(makeRequest({ slots }))).toEqual(slots);
  });

  it('lists only the slots still unfilled', () => {
    const manager = slot('manager', ['m']);
    const security = slot('security', ['s']);
    expect(openSlots(makeRequest({ slots: [manager, security], reviews: [approve('s')] }))).toEqual([
      manager,
    ]);
  });

  it('is empty once satisfied', () => {
    const slots = [slot('security', ['A', 'B']), slot('manager', ['A'])];
    expect(openSlots(makeRequest({ slots, reviews: [approve('A'), approve('B')] }))).toEqual([]);
  });

  it('leaves a slot open when its only candidate is already used by another slot', () => {
    const first = slot('security', ['A']);
    const second = slot('two-person', ['A']);
    expect(openSlots(makeRequest({ slots: [first, second], reviews: [approve('A')] }))).toHaveLength(1);
  });

  it('ignores the requester approving their own request', () => {
    const slots = [slot('peer', ['alice', 'bob'])];
    expect(openSlots(makeRequest({ requester: 'alice', slots, reviews: [approve('alice')] }))).toEqual(slots);
  });
});

describe('isEligibleReviewer', () => {
  const request = makeRequest({
    requester: 'alice',
    slots: [slot('manager', ['alice', 'mike']), slot('security', ['sec'])],
  });

  it('accepts anyone eligible for any slot', () => {
    expect(isEligibleReviewer(request, 'mike')).toBe(true);
    expect(isEligibleReviewer(request, 'sec')).toBe(true);
  });

  it('refuses someone in no slot', () => {
    expect(isEligibleReviewer(request, 'mallory')).toBe(false);
  });

  it('refuses the requester even when the directory lists them as eligible', () => {
    expect(isEligibleReviewer(request, 'alice')).toBe(false);
  });

  it('refuses everyone on a request with no slots', () => {
    expect(isEligibleReviewer(makeRequest({ slots: [], tiers: ['auto'] }), 'mike')).toBe(false);
  });
});
