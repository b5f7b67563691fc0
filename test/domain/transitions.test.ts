import { describe, expect, it } from 'vitest';
import { StintError } from '../../src/domain/errors.js';
import { type AccessRequest, REQUEST_STATES, type RequestState } from '../../src/domain/request.js';
import {
  activate,
  expire,
  fail,
  review,
  revoke,
  type Transition,
  timeOut,
  vanish,
  withdraw,
} from '../../src/domain/state-machine.js';
import { TRANSITIONS, type TransitionName } from '../../src/domain/transitions.js';
import { approve, at, makeRequest, slot } from './fixtures.js';

/**
 * A request in `state` that meets every other condition of every transition (an eligible reviewer who has not
 * reviewed, expiry and approval deadline both at t=100), so the state is the only thing that can make one refuse.
 */
const requestIn = (state: RequestState): AccessRequest =>
  makeRequest({
    state,
    requester: 'alice',
    slots: [slot('peer', ['bob', 'carol']), slot('security', ['dave'])],
    reviews: [approve('carol')],
    pendingUntil: at(100),
    activatedAt: at(10),
    expiresAt: at(100),
    version: 4,
  });

/** Each transition called as its callers call it; `late` is past both deadlines, `early` before them. */
const early = at(50);
const late = at(200);
const CALLS: Record<TransitionName, (r: AccessRequest) => Transition> = {
  review: (r) => review(r, 'bob', 'approve', 'ok', early),
  withdraw: (r) => withdraw(r, 'alice', 'no longer needed', early),
  activate: (r) => activate(r, early),
  fail: (r) => fail(r, 'target down', early),
  expire: (r) => expire(r, late),
  revoke: (r) => revoke(r, 'bob', 'done', early),
  vanish: (r) => vanish(r, late, { principal: 'p' }),
  timeOut: (r) => timeOut(r, late),
};

const pairs = REQUEST_STATES.flatMap((state) =>
  (Object.keys(TRANSITIONS) as TransitionName[]).map((name) => ({ state, name })),
);

describe('the transition table', () => {
  it('names a call for every transition, and only states that exist', () => {
    expect(Object.keys(CALLS).sort()).toEqual(Object.keys(TRANSITIONS).sort());
    for (const t of Object.values(TRANSITIONS)) {
      for (const s of [...t.from, ...t.to]) expect(REQUEST_STATES).toContain(s);
    }
  });

  it.each(pairs)('$name from $state: accepted exactly when the table lists it', ({ state, name }) => {
    const request = requestIn(state);
    const before = structuredClone(request);
    const allowed: readonly RequestState[] = TRANSITIONS[name].from;
    if (allowed.includes(state)) {
      const t = CALLS[name](request);
      const to: readonly RequestState[] = TRANSITIONS[name].to;
      expect(to).toContain(t.request.state);
      expect(t.request.version).toBe(request.version + 1);
    } else {
      let thrown: unknown;
      try {
        CALLS[name](request);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(StintError);
      expect((thrown as StintError).code).toBe('INVALID_TRANSITION');
      expect((thrown as StintError).details).toEqual({ state });
    }
    expect(request).toEqual(before);
  });

  it('has every terminal state as a dead end, and reaches every state from pending', () => {
    const sources = new Set<RequestState>(Object.values(TRANSITIONS).flatMap((t) => [...t.from]));
    expect([...sources].sort()).toEqual(['active', 'approved', 'pending']);
    const reached = new Set<RequestState>(['pending']);
    for (let grew = true; grew; ) {
      grew = false;
      for (const t of Object.values(TRANSITIONS)) {
        if (!t.from.some((s: RequestState) => reached.has(s))) continue;
        for (const s of t.to) {
          if (reached.has(s)) continue;
          reached.add(s);
          grew = true;
        }
      }
    }
    expect([...reached].sort()).toEqual([...REQUEST_STATES].sort());
  });
});
