import { formatSeconds, formatTime } from '../format';
import { useNow } from '../hooks/use-now';

/** A moment, shown in the viewer's zone; the exact instant stays machine-readable. */
export function When({ iso }: { iso: string | null }) {
  if (iso === null) return <span className="muted">—</span>;
  return (
    <time dateTime={iso} title={iso}>
      {formatTime(iso)}
    </time>
  );
}

/** Time left until `until`, ticking each second; "ended" after. */
export function Countdown({ until, label }: { until: string; label: string }) {
  const now = useNow();
  const left = (new Date(until).getTime() - now) / 1000;
  return (
    <span
      className="countdown"
      role="timer"
      aria-label={`${label}: ${left > 0 ? formatSeconds(left) : 'ended'}`}
    >
      {left > 0 ? `${formatSeconds(left)} left` : 'ended'}
    </span>
  );
}
