// node:assert in the hot loops: several times cheaper than expect() per call, which lets the property run more
// and longer sequences inside its time budget.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ErrorCode, StintError } from '../../src/domain/errors.js';
import {
  type AccessRequest,
  type ApprovalSlot,
  isTerminal,
  REQUEST_STATES,
  type RequestState,
  type ReviewDecision,
  type Tier,
} from '../../src/domain/request.js';
import {
  type AuditAction,
  activate,
  created,
  expire,
  fail,
  review,
  revoke,
  type Transition,
  timeOut,
  withdraw,
} from '../../src/domain/state-machine.js';
import { bruteForceSatisfied, makeRequest, T0 } from './fixtures.js';

/**
 * Model-based tests: random requests from a small pool of people (the requester is one of them, and may even be
 * listed as eligible) driven by random command sequences. Each command's outcome is predicted by a small model
 * written independently of src/domain (approval checked by brute force over assignments), then compared with
 * what the state machine does.
 */

const USERS = ['u0', 'u1', 'u2', 'u3', 'u4'] as const;
/** Someone in no slot, to reach NOT_AN_APPROVER. */
const ACTORS = [...USERS, 'stranger'] as const;
const NUM_RUNS = 1500;

type Command =
  | { kind: 'review'; by: string; decision: ReviewDecision; advance: number }
  | { kind: 'withdraw'; by: string; advance: number }
  | { kind: 'activate'; advance: number }
  | { kind: 'fail'; advance: number }
  | { kind: 'expire'; advance: number; snap: Snap }
  | { kind: 'revoke'; by: string; advance: number }
  | { kind: 'timeOut'; advance: number; snap: Snap };

/**
 * Whole-second random clocks rarely land on a deadline, so expire and timeOut may instead jump the clock to a
 * millisecond either side of it, or exactly onto it (when that does not move the clock backwards).
 */
type Snap = -1 | 0 | 1 | null;

const advanceArb = fc.integer({ min: 0, max: 300 });
const actorArb = fc.constantFrom(...ACTORS);
const snapArb: fc.Arbitrary<Snap> = fc.option(fc.constantFrom<Snap>(-1, 0, 1), { freq: 2 });

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('review' as const),
      by: actorArb,
      decision: fc.oneof(
        { weight: 5, arbitrary: fc.constant('approve' as const) },
        fc.constant('deny' as const),
      ),
      advance: advanceArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('withdraw' as const), by: actorArb, advance: advanceArb }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('activate' as const), advance: advanceArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fail' as const), advance: advanceArb }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('expire' as const), advance: advanceArb, snap: snapArb }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('revoke' as const), by: actorArb, advance: advanceArb }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('timeOut' as const), advance: advanceArb, snap: snapArb }),
  },
);

const slotArb: fc.Arbitrary<ApprovalSlot> = fc.record({
  tier: fc.constantFrom<Tier>('peer', 'manager', 'security', 'two-person'),
  label: fc.constant('slot'),
  // Mostly non-empty: a slot nobody can fill is worth covering, but only now and then.
  eligible: fc.oneof(
    { weight: 1, arbitrary: fc.constant<string[]>([]) },
    { weight: 6, arbitrary: fc.subarray([...USERS], { minLength: 1 }) },
  ),
});

const requestArb: fc.Arbitrary<AccessRequest> = fc
  .record({
    requester: fc.constantFrom(...USERS),
    slots: fc.oneof(
      { weight: 1, arbitrary: fc.constant<ApprovalSlot[]>([]) },
      { weight: 3, arbitrary: fc.array(slotArb, { minLength: 1, maxLength: 4 }) },
    ),
    // With slots, `auto` alongside other tiers must not skip them; without, a non-auto tier whose directory
    // lookup found nobody must stay pending.
    alsoAuto: fc.boolean(),
    durationSeconds: fc.integer({ min: 1, max: 900 }),
    pendingSeconds: fc.integer({ min: 1, max: 900 }),
  })
  .map(({ requester, slots, alsoAuto, durationSeconds, pendingSeconds }) => {
    const slotTiers = [...new Set(slots.map((s) => s.tier))];
    const tiers: Tier[] =
      slots.length === 0 ? [alsoAuto ? 'auto' : 'manager'] : alsoAuto ? ['auto', ...slotTiers] : slotTiers;
    return makeRequest({
      requester,
      slots,
      tiers,
      durationSeconds,
      pendingUntil: new Date(T0.getTime() + pendingSeconds * 1000),
    });
  });

function apply(request: AccessRequest, command: Command, now: Date): Transition {
  switch (command.kind) {
    case 'review':
      return review(request, command.by, command.decision, 'comment', now);
    case 'withdraw':
      return withdraw(request, command.by, 'comment', now);
    case 'activate':
      return activate(request, now);
    case 'fail':
      return fail(request, 'issuance failed', now);
    case 'expire':
      return expire(request, now);
    case 'revoke':
      return revoke(request, command.by, 'comment', now);
    case 'timeOut':
      return timeOut(request, now);
  }
}

type Expected = { ok: false; code: ErrorCode } | { ok: true; state: RequestState; action: AuditAction };

const refuse = (code: ErrorCode): Expected => ({ ok: false, code });
const allow = (state: RequestState, action: AuditAction): Expected => ({ ok: true, state, action });

function approvalsOf(request: AccessRequest): string[] {
  return request.reviews.filter((r) => r.decision === 'approve').map((r) => r.reviewer);
}

/**
 * The model. Order of checks is part of the contract: who-you-are checks (SELF_APPROVAL on review, FORBIDDEN on
 * withdraw) come before the state check, so they also answer on ended requests; eligibility and duplicate
 * checks come after it.
 */
function predict(request: AccessRequest, command: Command, now: Date): Expected {
  const inState = (...states: RequestState[]) => states.includes(request.state);
  switch (command.kind) {
    case 'review': {
      // Past its approval deadline a pending request can no longer be reviewed, even before timeOut() runs.
      if (command.by === request.requester) return refuse('SELF_APPROVAL');
      if (!inState('pending')) return refuse('INVALID_TRANSITION');
      if (now.getTime() >= request.pendingUntil.getTime()) return refuse('INVALID_TRANSITION');
      if (!request.slots.some((s) => s.eligible.includes(command.by))) return refuse('NOT_AN_APPROVER');
      if (request.reviews.some((r) => r.reviewer === command.by)) return refuse('ALREADY_REVIEWED');
      if (command.decision === 'deny') return allow('denied', 'request.denied');
      return bruteForceSatisfied(request.slots, [...approvalsOf(request), command.by], request.requester)
        ? allow('approved', 'request.approved')
        : allow('pending', 'request.reviewed');
    }
    case 'withdraw':
      if (command.by !== request.requester) return refuse('FORBIDDEN');
      return inState('pending', 'approved')
        ? allow('withdrawn', 'request.withdrawn')
        : refuse('INVALID_TRANSITION');
    case 'activate':
      return inState('approved') ? allow('active', 'grant.activated') : refuse('INVALID_TRANSITION');
    case 'fail':
      return inState('approved') ? allow('failed', 'request.failed') : refuse('INVALID_TRANSITION');
    case 'expire':
      return inState('active') && request.expiresAt !== null && now.getTime() >= request.expiresAt.getTime()
        ? allow('expired', 'grant.expired')
        : refuse('INVALID_TRANSITION');
    case 'revoke':
      return inState('approved', 'active') ? allow('revoked', 'grant.revoked') : refuse('INVALID_TRANSITION');
    case 'timeOut':
      return inState('pending') && now.getTime() >= request.pendingUntil.getTime()
        ? allow('timed_out', 'request.timed_out')
        : refuse('INVALID_TRANSITION');
  }
}

/** Calls the state machine, returning the transition or the StintError; anything else thrown fails the test. */
function attempt(request: AccessRequest, command: Command, now: Date): Transition | StintError {
  try {
    return apply(request, command, now);
  } catch (e) {
    if (e instanceof StintError) return e;
    throw e;
  }
}

/** Invariants that hold for every request the state machine ever hands back. */
function checkInvariants(request: AccessRequest): void {
  const reviewers = request.reviews.map((r) => r.reviewer);
  const approvals = approvalsOf(request);
  // (d) the requester never appears as a reviewer; (c) nobody reviews twice.
  assert.ok(!reviewers.includes(request.requester), 'requester reviewed their own request');
  assert.equal(new Set(reviewers).size, reviewers.length, 'someone reviewed twice');
  for (const r of reviewers) {
    assert.ok(
      request.slots.some((s) => s.eligible.includes(r)),
      `${r} reviewed but is eligible for no slot`,
    );
  }

  // (a) approved, active, or anything reached through them, only with every slot filled by a distinct person.
  if (request.state === 'approved' || request.state === 'active' || request.approvedAt !== null) {
    assert.notEqual(request.approvedAt, null, `${request.state} without approvedAt`);
    assert.ok(
      bruteForceSatisfied(request.slots, approvals, request.requester),
      `${request.state} but the approvals [${approvals}] cannot fill every slot with distinct people`,
    );
    assert.ok(new Set(approvals).size >= request.slots.length, 'fewer distinct approvers than slots');
  }
  if (request.state === 'pending') assert.equal(request.approvedAt, null);
  // (f) the window is measured from activation, and stays so through expiry or revocation.
  if (request.activatedAt !== null || request.expiresAt !== null) {
    assert.notEqual(request.activatedAt, null, 'expiresAt without activatedAt');
    assert.equal(
      request.expiresAt?.getTime(),
      (request.activatedAt?.getTime() ?? Number.NaN) + request.durationSeconds * 1000,
      'expiresAt is not activatedAt + durationSeconds',
    );
  }
  if (request.state === 'active') assert.notEqual(request.expiresAt, null, 'active without expiresAt');
  assert.equal(request.endedAt !== null, isTerminal(request.state), 'endedAt set exactly when ended');
}

/** (b) from an ended request, every command is refused, and with exactly this code. */
function terminalCode(request: AccessRequest, command: Command): ErrorCode {
  if (command.kind === 'review' && command.by === request.requester) return 'SELF_APPROVAL';
  if (command.kind === 'withdraw' && command.by !== request.requester) return 'FORBIDDEN';
  return 'INVALID_TRANSITION';
}

function nextClock(request: AccessRequest, command: Command, clock: number): number {
  const advanced = clock + command.advance * 1000;
  if ((command.kind !== 'expire' && command.kind !== 'timeOut') || command.snap === null) return advanced;
  const deadline = command.kind === 'expire' ? request.expiresAt : request.pendingUntil;
  if (deadline === null) return advanced;
  return Math.max(clock, deadline.getTime() + command.snap);
}

function everyCommand(advance: number): Command[] {
  return [
    ...ACTORS.flatMap((by): Command[] => [
      { kind: 'review', by, decision: 'approve', advance },
      { kind: 'review', by, decision: 'deny', advance },
      { kind: 'withdraw', by, advance },
      { kind: 'revoke', by, advance },
    ]),
    { kind: 'activate', advance },
    { kind: 'fail', advance },
    { kind: 'expire', advance, snap: null },
    { kind: 'timeOut', advance, snap: null },
  ];
}

describe('state machine (model-based)', () => {
  it('created(): auto requests start approved with no reviews, all others pending', () => {
    fc.assert(
      fc.property(requestArb, (request) => {
        const before = structuredClone(request);
        const out = created(request);
        expect(request).toEqual(before);
        expect(out[0]?.action).toBe('request.created');
        expect(out[0]?.request).toBe(request);
        const isAuto = request.slots.length === 0 && request.tiers.includes('auto');
        const start = out.at(-1)?.request as AccessRequest;
        if (isAuto) {
          // (g)
          expect(out.map((t) => t.action)).toEqual(['request.created', 'request.approved']);
          expect(start.state).toBe('approved');
          expect(start.reviews).toEqual([]);
          expect(start.approvedAt).toEqual(request.createdAt);
          expect(start.version).toBe(request.version + 1);
        } else {
          expect(out).toHaveLength(1);
          expect(start.state).toBe('pending');
          expect(start.version).toBe(request.version);
        }
        checkInvariants(start);
      }),
      { numRuns: 500 },
    );
  });

  it('every command sequence agrees with the model and keeps the invariants', () => {
    const reachedStates = new Set<RequestState>();
    const seenCodes = new Set<ErrorCode>();
    const boundaries = new Set<string>();

    fc.assert(
      fc.property(
        requestArb,
        fc.array(commandArb, { maxLength: 40, size: 'medium' }),
        fc.nat({ max: 100_000 }),
        (initial, commands, late) => {
          let request = created(initial).at(-1)?.request as AccessRequest;
          let clock = request.createdAt.getTime();
          let successes = 0;
          const startVersion = request.version;
          reachedStates.add(request.state);

          for (const command of commands) {
            clock = nextClock(request, command, clock);
            const now = new Date(clock);
            const wasTerminal = isTerminal(request.state);
            const deadline =
              command.kind === 'expire' && request.state === 'active'
                ? request.expiresAt
                : command.kind === 'timeOut' && request.state === 'pending'
                  ? request.pendingUntil
                  : null;
            if (deadline !== null && Math.abs(now.getTime() - deadline.getTime()) <= 1) {
              boundaries.add(`${command.kind}${now.getTime() - deadline.getTime()}`);
            }
            const expected = predict(request, command, now);
            const before = JSON.stringify(request);
            const outcome = attempt(request, command, now);
            const step = `${JSON.stringify(command)} on ${request.state}`;

            // Pure either way: the input is never mutated (a refusal therefore keeps its version too).
            assert.equal(JSON.stringify(request), before, `${step} mutated its input`);

            if (outcome instanceof StintError) {
              seenCodes.add(outcome.code);
              assert.deepEqual(
                { code: outcome.code },
                expected.ok ? { expected } : { code: expected.code },
                step,
              );
              if (wasTerminal) assert.equal(outcome.code, terminalCode(request, command), step);
              continue;
            }

            const next = outcome.request;
            assert.deepEqual(
              { state: next.state, action: outcome.action },
              expected.ok ? { state: expected.state, action: expected.action } : { refused: expected.code },
              step,
            );
            // (b) nothing leaves a terminal state.
            assert.ok(!wasTerminal, `${step} left a terminal state`);
            // (e) exactly one more per successful transition.
            assert.equal(next.version, request.version + 1, `${step} version`);
            successes++;

            // The fields a transition must not touch.
            assert.equal(next.slots, request.slots, `${step} replaced the slots`);
            assert.equal(next.requester, request.requester);
            assert.equal(next.durationSeconds, request.durationSeconds);
            assert.deepEqual(
              next.reviews,
              command.kind === 'review'
                ? [
                    ...request.reviews,
                    { reviewer: command.by, decision: command.decision, comment: 'comment', at: now },
                  ]
                : request.reviews,
              `${step} reviews`,
            );
            if (next.state === 'approved' && request.state === 'pending') {
              assert.equal(next.approvedAt?.getTime(), now.getTime(), `${step} approvedAt`);
            }
            if (command.kind === 'activate') {
              assert.equal(next.activatedAt?.getTime(), now.getTime(), `${step} activatedAt`);
              // (f)
              assert.equal(next.expiresAt?.getTime(), now.getTime() + request.durationSeconds * 1000);
            }
            if (isTerminal(next.state))
              assert.equal(next.endedAt?.getTime(), now.getTime(), `${step} endedAt`);

            checkInvariants(next);
            reachedStates.add(next.state);
            request = next;
          }

          assert.equal(request.version, startVersion + successes, 'version is not start + successes');

          // (b) exhaustively: once ended, every command by every actor at any later time is refused precisely.
          if (isTerminal(request.state)) {
            const now = new Date(clock + late * 1000);
            const before = JSON.stringify(request);
            for (const command of everyCommand(0)) {
              const outcome = attempt(request, command, now);
              const step = `${JSON.stringify(command)} on ${request.state}`;
              assert.ok(outcome instanceof StintError, `${step} was accepted`);
              assert.equal(outcome.code, terminalCode(request, command), step);
              assert.equal(JSON.stringify(request), before, `${step} mutated its input`);
            }
          }
        },
      ),
      { numRuns: NUM_RUNS },
    );

    // Guard against a generator that silently stops exercising the machine.
    expect([...reachedStates].sort()).toEqual([...REQUEST_STATES].sort());
    expect([...boundaries].sort()).toEqual([
      'expire-1',
      'expire0',
      'expire1',
      'timeOut-1',
      'timeOut0',
      'timeOut1',
    ]);
    for (const code of [
      'SELF_APPROVAL',
      'NOT_AN_APPROVER',
      'ALREADY_REVIEWED',
      'INVALID_TRANSITION',
      'FORBIDDEN',
    ] as const) {
      expect(seenCodes).toContain(code);
    }
  });

  it('the requester never counts: any review by them is SELF_APPROVAL, in any state', () => {
    fc.assert(
      fc.property(
        requestArb,
        fc.constantFrom(...REQUEST_STATES),
        fc.constantFrom<ReviewDecision>('approve', 'deny'),
        (initial, state, decision) => {
          const request = { ...initial, state };
          const outcome = attempt(
            request,
            { kind: 'review', by: request.requester, decision, advance: 0 },
            T0,
          );
          expect(outcome).toBeInstanceOf(StintError);
          expect((outcome as StintError).code).toBe('SELF_APPROVAL');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('one person fills one slot: approvals from k distinct people never satisfy more than k slots', () => {
    fc.assert(
      fc.property(requestArb, fc.array(fc.constantFrom(...USERS), { maxLength: 8 }), (initial, reviewers) => {
        let request = created(initial).at(-1)?.request as AccessRequest;
        fc.pre(request.state === 'pending');
        for (const by of reviewers) {
          const outcome = attempt(request, { kind: 'review', by, decision: 'approve', advance: 0 }, T0);
          if (outcome instanceof StintError) {
            const reviewedBefore = request.reviews.some((r) => r.reviewer === by);
            if (request.state === 'pending' && reviewedBefore) expect(outcome.code).toBe('ALREADY_REVIEWED');
            continue;
          }
          request = outcome.request;
          const distinct = new Set(approvalsOf(request)).size;
          if (request.state === 'approved') expect(distinct).toBeGreaterThanOrEqual(request.slots.length);
          if (distinct < request.slots.length) expect(request.state).toBe('pending');
        }
      }),
      { numRuns: 500 },
    );
  });
});
