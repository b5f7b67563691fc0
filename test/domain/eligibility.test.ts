import { describe, expect, it } from 'vitest';
import { isApproverOf, reviewEligibility } from '../../src/domain/eligibility.js';
import { approve, makeRequest, slot } from './fixtures.js';

describe('reviewEligibility', () => {
  const request = makeRequest({
    requester: 'alice',
    slots: [slot('peer', ['alice', 'bob']), slot('security', ['sec'])],
    reviews: [approve('bob')],
  });

  it('accepts an approver who has not reviewed yet', () => {
    expect(reviewEligibility(request, 'sec')).toEqual({ eligible: true });
  });

  it('refuses the requester first, even when they are listed for a slot', () => {
    expect(reviewEligibility(request, 'alice')).toEqual({ eligible: false, reason: 'SELF_APPROVAL' });
  });

  it('refuses someone in no slot', () => {
    expect(reviewEligibility(request, 'mallory')).toEqual({ eligible: false, reason: 'NOT_AN_APPROVER' });
  });

  it('refuses an approver who already reviewed, who stays an approver (may still read and revoke)', () => {
    expect(reviewEligibility(request, 'bob')).toEqual({ eligible: false, reason: 'ALREADY_REVIEWED' });
    expect(isApproverOf(request, 'bob')).toBe(true);
  });

  it('refuses everyone on a request with no slots', () => {
    const auto = makeRequest({ slots: [], tiers: ['auto'] });
    expect(reviewEligibility(auto, 'bob')).toEqual({ eligible: false, reason: 'NOT_AN_APPROVER' });
  });
});
