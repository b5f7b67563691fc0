import { api, ok } from '../api/client';
import { useLoad } from '../hooks/use-load';
import { ErrorNote } from './error-note';
import { When } from './when';

/** A request's audit history, oldest first: who did what, when. */
export function History({ requestId }: { requestId: string }) {
  const events = useLoad(
    () => ok(api.GET('/v1/audit/events', { params: { query: { request: requestId, limit: 100 } } })),
    [requestId],
  );
  if (events.error) return <ErrorNote error={events.error} />;
  if (!events.data) return <p className="muted">Loading the history…</p>;
  return (
    <ol className="history" aria-label={`History of ${requestId}`}>
      {events.data.events.map((e) => (
        <li key={e.seq}>
          <When iso={e.at} /> — <strong>{e.actor}</strong> {e.action}
        </li>
      ))}
    </ol>
  );
}
