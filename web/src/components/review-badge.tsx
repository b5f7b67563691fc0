import type { SessionReview } from '../api/types';
import { useNow } from '../hooks/use-now';

/** A queued review past its due date. */
export const isOverdue = (r: Pick<SessionReview, 'state' | 'dueAt'>, now: number) =>
  r.state === 'queued' && new Date(r.dueAt).getTime() < now;

export function ReviewBadge({ review }: { review: SessionReview }) {
  const now = useNow(60_000);
  if (review.state === 'completed')
    return (
      <span className={`badge verdict-${review.verdict ?? 'ok'}`}>reviewed: {review.verdict ?? '—'}</span>
    );
  if (isOverdue(review, now)) return <span className="badge badge-failed">overdue</span>;
  return <span className="badge badge-pending">queued</span>;
}
