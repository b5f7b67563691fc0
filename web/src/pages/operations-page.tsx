import { api, ok } from '../api/client';
import type { AccessRequest } from '../api/types';
import { ErrorNote } from '../components/error-note';
import { formatSeconds } from '../format';
import { useLoad } from '../hooks/use-load';
import { isReader, useMe } from '../session';

const BAND = { low: 5 * 60, high: 15 * 60 };

/** The median and 90th percentile of how long people waited for a decision that needed a person. */
function approvalTimes(requests: readonly AccessRequest[]) {
  const waits = requests
    .filter((r) => r.approvedAt && !r.tiers.every((t) => t === 'auto'))
    .map((r) => (new Date(r.approvedAt as string).getTime() - new Date(r.createdAt).getTime()) / 1000)
    .sort((a, b) => a - b);
  const at = (q: number) => waits[Math.min(waits.length - 1, Math.floor(q * waits.length))] ?? 0;
  return { n: waits.length, p50: at(0.5), p90: at(0.9) };
}

/**
 * A placeholder for operations, reading only what the API has today: readiness, and request volume and approval
 * time from the requests list. The metrics exporter of the operations capability will feed a fuller view.
 */
export function OperationsPage() {
  const me = useMe();
  const reader = isReader(me);
  // Not ready is an answer here, not a failure: the 503's body says why.
  const ready = useLoad(async () => {
    const { data, error, response } = await api.GET('/readyz');
    return { status: response.status, body: (data ?? error ?? {}) as Record<string, unknown> };
  }, []);
  const all = useLoad(
    () =>
      reader
        ? ok(api.GET('/v1/requests', { params: { query: { scope: 'all', limit: 500 } } })).then(
            (r) => r.requests,
          )
        : Promise.resolve([]),
    [reader],
  );
  const requests = all.data ?? [];
  const dayAgo = Date.now() - 86_400_000;
  const lastDay = requests.filter((r) => new Date(r.createdAt).getTime() >= dayAgo);
  const byState = new Map<string, number>();
  for (const r of requests) byState.set(r.state, (byState.get(r.state) ?? 0) + 1);
  const times = approvalTimes(requests);
  const where = times.p50 < BAND.low ? 'under' : times.p50 <= BAND.high ? 'within' : 'above';

  return (
    <>
      <h1>Operations</h1>
      <section aria-labelledby="ops-ready">
        <h2 id="ops-ready">Readiness</h2>
        <ErrorNote error={ready.error} />
        {ready.data ? (
          <p>
            <strong>{String(ready.data.body.status ?? ready.data.status)}</strong> (HTTP {ready.data.status})
          </p>
        ) : null}
        {ready.data?.body.degraded ? (
          <pre className="wrap">{JSON.stringify(ready.data.body.degraded, null, 2)}</pre>
        ) : null}
      </section>
      <section aria-labelledby="ops-volume">
        <h2 id="ops-volume">Requests</h2>
        {!reader ? (
          <p>Request volume and approval times are for security, auditors and admins.</p>
        ) : (
          <>
            <ErrorNote error={all.error} />
            <p>
              {lastDay.length} in the last 24 hours; {requests.length} among the latest 500.
            </p>
            <ul>
              {[...byState].map(([state, n]) => (
                <li key={state}>
                  {state}: {n}
                </li>
              ))}
            </ul>
            <h3>Time to approval</h3>
            {times.n === 0 ? (
              <p>No request approved by a person yet.</p>
            ) : (
              <p>
                Median {formatSeconds(times.p50)}, 90th percentile {formatSeconds(times.p90)} over {times.n}{' '}
                approvals: {where} the {BAND.low / 60}–{BAND.high / 60} minute band.
              </p>
            )}
          </>
        )}
      </section>
    </>
  );
}
