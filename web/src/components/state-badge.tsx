import type { RequestState } from '../api/types';

const WORDS: Record<RequestState, string> = {
  pending: 'pending approval',
  approved: 'approved, issuing',
  active: 'active',
  expired: 'expired',
  denied: 'denied',
  withdrawn: 'withdrawn',
  revoked: 'ended early',
  failed: 'failed',
  timed_out: 'timed out',
};

export function StateBadge({ state }: { state: RequestState }) {
  return <span className={`badge badge-${state}`}>{WORDS[state]}</span>;
}
