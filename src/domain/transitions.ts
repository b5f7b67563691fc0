import type { RequestState } from './request.js';

/**
 * Every state change a request can make, in one place: the states it may start from and the states it may end
 * in. The state machine refuses a transition from any state not listed here (INVALID_TRANSITION), so this table
 * is the whole answer to "what can happen to a request in state X" — for readers, diagrams and tests alike.
 * `verb` is how a refusal names it ("cannot withdraw request …"); a review names the decision instead.
 */
export const TRANSITIONS = {
  review: { from: ['pending'], to: ['pending', 'approved', 'denied'], verb: 'review' },
  withdraw: { from: ['pending', 'approved'], to: ['withdrawn'], verb: 'withdraw' },
  activate: { from: ['approved'], to: ['active'], verb: 'activate' },
  fail: { from: ['approved'], to: ['failed'], verb: 'fail' },
  expire: { from: ['active'], to: ['expired'], verb: 'expire' },
  revoke: { from: ['approved', 'active'], to: ['revoked'], verb: 'revoke' },
  vanish: { from: ['active'], to: ['revoked'], verb: 'mark as vanished' },
  timeOut: { from: ['pending'], to: ['timed_out'], verb: 'time out' },
} as const satisfies Record<
  string,
  { from: readonly RequestState[]; to: readonly RequestState[]; verb: string }
>;

export type TransitionName = keyof typeof TRANSITIONS;

export function allowedFrom(name: TransitionName): readonly RequestState[] {
  return TRANSITIONS[name].from;
}
