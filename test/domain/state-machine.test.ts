import { describe, expect, it } from 'vitest';
import { type ErrorCode, StintError } from '../../src/domain/errors.js';
import type { AccessRequest } from '../../src/domain/request.js';
import {
  activate,
  created,
  expire,
  fail,
  review,
  revoke,
  SYSTEM_ACTOR,
  timeOut,
  withdraw,
} from '../../src/domain/state-machine.js';
import { approve, at, makeRequest, slot, T0 } from './fixtures.js';

/** Runs `fn`, expects a StintError with `code`, and checks the request it was given is untouched. */
function expectRefused(
  request: AccessRequest,
  fn: (r: AccessRequest) => unknown,
  code: ErrorCode,
): StintError {
  const before = structuredClone(request);
  let thrown: unknown;
  try {
    fn(request);
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(StintError);
  const error = thrown as StintError;
  expect(error.code).toBe(code);
  expect(request).toEqual(before);
  return error;
}

const peerRequest = (overrides: Partial<AccessRequest> = {}) =>
  makeRequest({ requester: 'alice', slots: [slot('peer', ['bob', 'carol'])], ...overrides });

const approvedRequest = (overrides: Partial<AccessRequest> = {}) =>
  peerRequest({ state: 'approved', reviews: [approve('bob')], approvedAt: at(1), version: 2, ...overrides });

const activeRequest = (overrides: Partial<AccessRequest> = {}) =>
  approvedRequest({
    state: 'active',
    activatedAt: at(10),
    expiresAt: at(10 + 3600),
    version: 3,
    ...overrides,
  });

describe('created', () => {
  it('leaves a request with approval slots pending, with only the created event', () => {
    const request = peerRequest();
    const out = created(request);
    expect(out).toHaveLength(1);
    expect(out[0]?.action).toBe('request.created');
    expect(out[0]?.actor).toBe('alice');
    expect(out[0]?.request).toBe(request);
    expect(out[0]?.details).toMatchObject({ resource: 'prod-db', role: 'read-only', tiers: ['peer'] });
  });

  it('approves an auto request at once, by the system, at its creation time, with no reviews', () => {
    const request = makeRequest({ slots: [], tiers: ['auto'] });
    const out = created(request);
    expect(out.map((t) => t.action)).toEqual(['request.created', 'request.approved']);
    const approved = out[1];
    expect(approved?.actor).toBe(SYSTEM_ACTOR);
    expect(approved?.request.state).toBe('approved');
    expect(approved?.request.approvedAt).toEqual(request.createdAt);
    expect(approved?.request.reviews).toEqual([]);
    expect(approved?.request.version).toBe(request.version + 1);
    expect(request.state).toBe('pending');
  });

  it('keeps a request pending when auto is combined with a tier that has slots', () => {
    const request = makeRequest({ slots: [slot('peer', ['bob'])], tiers: ['auto', 'peer'] });
    expect(created(request)).toHaveLength(1);
  });

  it('does not auto-approve a request with no slots unless its tier is auto', () => {
    const request = makeRequest({ slots: [], tiers: ['manager'] });
    expect(created(request)).toHaveLength(1);
  });
});

describe('review', () => {
  it('records an approval that does not yet satisfy the request and stays pending', () => {
    const request = makeRequest({ slots: [slot('manager', ['mike']), slot('security', ['sec'])] });
    const t = review(request, 'mike', 'approve', 'ok', at(5));
    expect(t.action).toBe('request.reviewed');
    expect(t.actor).toBe('mike');
    expect(t.request.state).toBe('pending');
    expect(t.request.reviews).toEqual([{ reviewer: 'mike', decision: 'approve', comment: 'ok', at: at(5) }]);
    expect(t.request.approvedAt).toBeNull();
    expect(t.request.version).toBe(request.version + 1);
  });

  it('approves when the last open slot is filled', () => {
    const request = makeRequest({
      slots: [slot('manager', ['mike']), slot('security', ['sec'])],
      reviews: [approve('mike')],
      version: 2,
    });
    const t = review(request, 'sec', 'approve', 'lgtm', at(7));
    expect(t.action).toBe('request.approved');
    expect(t.request.state).toBe('approved');
    expect(t.request.approvedAt).toEqual(at(7));
    expect(t.request.version).toBe(3);
    expect(t.details).toMatchObject({ approvers: ['mike', 'sec'] });
  });

  it('denies on the first deny, ending the request', () => {
    const request = peerRequest();
    const t = review(request, 'carol', 'deny', 'not during the freeze', at(3));
    expect(t.action).toBe('request.denied');
    expect(t.request.state).toBe('denied');
    expect(t.request.endedAt).toEqual(at(3));
    expect(t.request.endedBy).toBe('carol');
    expect(t.request.endReason).toBe('not during the freeze');
  });

  it('approves the greedy-fails case once both have approved, in either order', () => {
    const slots = [slot('security', ['A', 'B']), slot('manager', ['A'])];
    for (const [first, second] of [
      ['A', 'B'],
      ['B', 'A'],
    ] as const) {
      const one = review(makeRequest({ slots }), first, 'approve', '', at(1));
      expect(one.request.state).toBe('pending');
      expect(review(one.request, second, 'approve', '', at(2)).request.state).toBe('approved');
    }
  });

  it('refuses the requester with SELF_APPROVAL, even when listed as eligible', () => {
    const request = peerRequest({ slots: [slot('peer', ['alice', 'bob'])] });
    expectRefused(request, (r) => review(r, 'alice', 'approve', '', at(1)), 'SELF_APPROVAL');
    expectRefused(request, (r) => review(r, 'alice', 'deny', '', at(1)), 'SELF_APPROVAL');
  });

  it('refuses someone eligible for no slot with NOT_AN_APPROVER', () => {
    expectRefused(peerRequest(), (r) => review(r, 'mallory', 'approve', '', at(1)), 'NOT_AN_APPROVER');
    expectRefused(peerRequest(), (r) => review(r, 'mallory', 'deny', '', at(1)), 'NOT_AN_APPROVER');
  });

  it('refuses a second review by the same person with ALREADY_REVIEWED', () => {
    const request = makeRequest({ slots: [slot('manager', ['mike']), slot('security', ['sec'])] });
    const once = review(request, 'mike', 'approve', '', at(1)).request;
    expectRefused(once, (r) => review(r, 'mike', 'approve', '', at(2)), 'ALREADY_REVIEWED');
    expectRefused(once, (r) => review(r, 'mike', 'deny', '', at(2)), 'ALREADY_REVIEWED');
  });

  it('does not let the same security user fill both two-person slots', () => {
    const request = makeRequest({
      slots: [
        slot('two-person', ['sec', 'sec2'], 'security reviewer'),
        slot('two-person', ['sec', 'sec2', 'bob']),
      ],
    });
    const once = review(request, 'sec', 'approve', '', at(1)).request;
    expect(once.state).toBe('pending');
    expectRefused(once, (r) => review(r, 'sec', 'approve', '', at(2)), 'ALREADY_REVIEWED');
    expect(review(once, 'bob', 'approve', '', at(2)).request.state).toBe('approved');
  });

  it('lets a person eligible for two slots fill only one of them', () => {
    const request = makeRequest({ slots: [slot('manager', ['mike']), slot('security', ['mike', 'sec'])] });
    const t = review(request, 'mike', 'approve', '', at(1));
    expect(t.action).toBe('request.reviewed');
    expect(t.request.state).toBe('pending');
  });

  it('refuses a review of a request that is not pending with INVALID_TRANSITION', () => {
    for (const request of [approvedRequest(), activeRequest(), peerRequest({ state: 'denied' })]) {
      expectRefused(request, (r) => review(r, 'carol', 'approve', '', at(20)), 'INVALID_TRANSITION');
    }
  });

  it('checks SELF_APPROVAL before the state, so the requester hears SELF_APPROVAL on an ended request', () => {
    expectRefused(
      peerRequest({ state: 'withdrawn' }),
      (r) => review(r, 'alice', 'approve', '', at(1)),
      'SELF_APPROVAL',
    );
  });
});

describe('withdraw', () => {
  it('withdraws a pending request, keeping the comment', () => {
    const request = peerRequest();
    const t = withdraw(request, 'alice', 'not needed', at(4));
    expect(t.action).toBe('request.withdrawn');
    expect(t.actor).toBe('alice');
    expect(t.request).toMatchObject({
      state: 'withdrawn',
      endedAt: at(4),
      endedBy: 'alice',
      endReason: 'not needed',
      version: request.version + 1,
    });
  });

  it('withdraws an approved request and stores an empty comment as null', () => {
    const t = withdraw(approvedRequest(), 'alice', '', at(4));
    expect(t.request.state).toBe('withdrawn');
    expect(t.request.endReason).toBeNull();
  });

  it('refuses anyone but the requester with FORBIDDEN', () => {
    expectRefused(peerRequest(), (r) => withdraw(r, 'bob', '', at(1)), 'FORBIDDEN');
    expectRefused(approvedRequest(), (r) => withdraw(r, SYSTEM_ACTOR, '', at(1)), 'FORBIDDEN');
  });

  it('checks FORBIDDEN before the state, so a non-requester hears FORBIDDEN on an ended request', () => {
    expectRefused(peerRequest({ state: 'revoked' }), (r) => withdraw(r, 'bob', '', at(1)), 'FORBIDDEN');
  });

  it('refuses to withdraw an active or ended request with INVALID_TRANSITION', () => {
    expectRefused(activeRequest(), (r) => withdraw(r, 'alice', '', at(20)), 'INVALID_TRANSITION');
    expectRefused(
      peerRequest({ state: 'denied' }),
      (r) => withdraw(r, 'alice', '', at(20)),
      'INVALID_TRANSITION',
    );
  });
});

describe('activate', () => {
  it('starts the window at activation: expiresAt = activatedAt + duration', () => {
    const request = approvedRequest({ durationSeconds: 5400 });
    const t = activate(request, at(100));
    expect(t.action).toBe('grant.activated');
    expect(t.actor).toBe(SYSTEM_ACTOR);
    expect(t.request.state).toBe('active');
    expect(t.request.activatedAt).toEqual(at(100));
    expect(t.request.expiresAt).toEqual(at(100 + 5400));
    expect(t.details).toEqual({ expiresAt: at(5500).toISOString() });
    expect(t.request.version).toBe(request.version + 1);
  });

  it('refuses to activate a request that is not approved', () => {
    expectRefused(peerRequest(), (r) => activate(r, at(1)), 'INVALID_TRANSITION');
    expectRefused(activeRequest(), (r) => activate(r, at(20)), 'INVALID_TRANSITION');
  });
});

describe('fail', () => {
  it('fails an approved request whose credential could not be issued', () => {
    const t = fail(approvedRequest(), 'provider unreachable', at(9));
    expect(t.action).toBe('request.failed');
    expect(t.request).toMatchObject({
      state: 'failed',
      endedAt: at(9),
      endedBy: SYSTEM_ACTOR,
      endReason: 'provider unreachable',
    });
  });

  it('refuses to fail a pending or active request', () => {
    expectRefused(peerRequest(), (r) => fail(r, 'x', at(1)), 'INVALID_TRANSITION');
    expectRefused(activeRequest(), (r) => fail(r, 'x', at(20)), 'INVALID_TRANSITION');
  });
});

describe('expire', () => {
  it('expires an active request exactly at expiresAt', () => {
    const request = activeRequest();
    const t = expire(request, at(10 + 3600));
    expect(t.action).toBe('grant.expired');
    expect(t.request).toMatchObject({ state: 'expired', endedAt: at(3610), endedBy: SYSTEM_ACTOR });
    expect(t.request.expiresAt).toEqual(request.expiresAt);
  });

  it('refuses to expire before expiresAt, by even a millisecond', () => {
    const request = activeRequest();
    const justBefore = new Date(at(3610).getTime() - 1);
    expectRefused(request, (r) => expire(r, justBefore), 'INVALID_TRANSITION');
  });

  it('refuses to expire a request that is not active', () => {
    expectRefused(approvedRequest(), (r) => expire(r, at(99_999)), 'INVALID_TRANSITION');
  });

  it('refuses to expire an active request with no expiresAt', () => {
    expectRefused(activeRequest({ expiresAt: null }), (r) => expire(r, at(99_999)), 'INVALID_TRANSITION');
  });
});

describe('revoke', () => {
  it('revokes an active request, recording who and why', () => {
    const t = revoke(activeRequest(), 'sec', 'suspicious activity', at(50));
    expect(t.action).toBe('grant.revoked');
    expect(t.actor).toBe('sec');
    expect(t.request).toMatchObject({
      state: 'revoked',
      endedAt: at(50),
      endedBy: 'sec',
      endReason: 'suspicious activity',
    });
  });

  it('revokes an approved request that was never activated', () => {
    expect(revoke(approvedRequest(), 'sec', '', at(5)).request.state).toBe('revoked');
  });

  it('refuses to revoke a pending or ended request', () => {
    expectRefused(peerRequest(), (r) => revoke(r, 'sec', '', at(1)), 'INVALID_TRANSITION');
    expectRefused(
      activeRequest({ state: 'expired' }),
      (r) => revoke(r, 'sec', '', at(1)),
      'INVALID_TRANSITION',
    );
  });
});

describe('timeOut', () => {
  it('times out a pending request at its deadline', () => {
    const request = peerRequest();
    const t = timeOut(request, request.pendingUntil);
    expect(t.action).toBe('request.timed_out');
    expect(t.request).toMatchObject({
      state: 'timed_out',
      endedAt: request.pendingUntil,
      endedBy: SYSTEM_ACTOR,
    });
  });

  it('refuses to time out before the deadline', () => {
    const request = peerRequest();
    const justBefore = new Date(request.pendingUntil.getTime() - 1);
    expectRefused(request, (r) => timeOut(r, justBefore), 'INVALID_TRANSITION');
    expectRefused(request, (r) => timeOut(r, T0), 'INVALID_TRANSITION');
  });

  it('refuses to time out a request that is no longer pending', () => {
    expectRefused(approvedRequest(), (r) => timeOut(r, at(99_999)), 'INVALID_TRANSITION');
  });
});

describe('errors', () => {
  it('carry the HTTP status of their code, and a refused transition names the state it found', () => {
    const self = expectRefused(
      peerRequest(),
      (r) => review(r, 'alice', 'approve', '', at(1)),
      'SELF_APPROVAL',
    );
    expect(self.status).toBe(403);
    const invalid = expectRefused(activeRequest(), (r) => activate(r, at(20)), 'INVALID_TRANSITION');
    expect(invalid.status).toBe(409);
    expect(invalid.details).toEqual({ state: 'active' });
  });
});
