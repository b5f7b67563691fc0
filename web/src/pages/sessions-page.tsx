import { useId, useState } from 'react';
import { api, ok } from '../api/client';
import { ErrorNote } from '../components/error-note';
import { Pager, usePage } from '../components/pager';
import { isOverdue, ReviewBadge } from '../components/review-badge';
import { When } from '../components/when';
import { useLoad } from '../hooks/use-load';
import { useNow } from '../hooks/use-now';
import { Link, useLocation } from '../router';
import { SessionDetail } from './session-detail';

type QueueState = 'queued' | 'completed' | 'all';

/** The API's most per call: the queue and the sessions are paged here, in the page, over that many. */
const LIMIT = 500;

/**
 * Recorded sessions and the session review queue (security and auditors): the queue by due date, the sessions
 * newest first, or one session (`?id=ses_…`) with its recordings, player and verdict.
 */
export function SessionsPage() {
  const { query } = useLocation();
  const id = query.get('id');
  return id ? <SessionDetail id={id} /> : <SessionLists />;
}

function SessionLists() {
  return (
    <>
      <h1>Sessions</h1>
      <p className="muted">
        Sessions through Stint’s proxy, recorded. Those drawn for review wait in the queue below until someone
        who neither made the session nor approved its request gives a verdict.
      </p>
      <ReviewQueue />
      <RecordedSessions />
    </>
  );
}

function ReviewQueue() {
  const [state, setState] = useState<QueueState>('queued');
  const stateId = useId();
  const queue = useLoad(
    () =>
      ok(api.GET('/v1/session-reviews', { params: { query: { state, limit: LIMIT } } })).then(
        (r) => r.reviews,
      ),
    [state],
  );
  const now = useNow(60_000);
  const { rows, page, pages, setPage } = usePage(queue.data ?? []);
  return (
    <section aria-labelledby="queue-h">
      <h2 id="queue-h">Review queue</h2>
      <label htmlFor={stateId}>Show</label>
      <select id={stateId} value={state} onChange={(e) => setState(e.target.value as QueueState)}>
        <option value="queued">queued</option>
        <option value="completed">completed</option>
        <option value="all">all</option>
      </select>
      <ErrorNote error={queue.error} />
      {queue.data && queue.data.length === 0 ? <p>No sessions here.</p> : null}
      {rows.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Session review queue</caption>
            <thead>
              <tr>
                <th scope="col">Session</th>
                <th scope="col">User</th>
                <th scope="col">Resource</th>
                <th scope="col">Why drawn</th>
                <th scope="col">Due</th>
                <th scope="col">State</th>
                <th scope="col">Reviewer</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.sessionId} className={isOverdue(r, now) ? 'overdue' : undefined}>
                  <td>
                    <Link href={`/sessions?id=${r.sessionId}`}>{r.sessionId}</Link>
                  </td>
                  <td>{r.requester}</td>
                  <td>{r.resource}</td>
                  <td>{r.reasons.join(', ') || '—'}</td>
                  <td>
                    <When iso={r.dueAt} />
                  </td>
                  <td>
                    <ReviewBadge review={r} />
                  </td>
                  <td>{r.reviewer ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <Pager page={page} pages={pages} setPage={setPage} label="Review queue pages" />
      {queue.data?.length === LIMIT ? (
        <p className="muted">Only the first {LIMIT} by due date are listed.</p>
      ) : null}
    </section>
  );
}

function RecordedSessions() {
  const sessions = useLoad(
    () =>
      ok(api.GET('/v1/recorded-sessions', { params: { query: { limit: LIMIT } } })).then((r) => r.sessions),
    [],
  );
  const { rows, page, pages, setPage } = usePage(sessions.data ?? []);
  return (
    <section aria-labelledby="sessions-h">
      <h2 id="sessions-h">Recorded sessions</h2>
      <ErrorNote error={sessions.error} />
      {sessions.data && sessions.data.length === 0 ? <p>No sessions recorded yet.</p> : null}
      {rows.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Recorded sessions, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Session</th>
                <th scope="col">User</th>
                <th scope="col">Resource</th>
                <th scope="col">Account</th>
                <th scope="col">Started</th>
                <th scope="col">Ended</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((s) => (
                <tr key={s.id}>
                  <td>
                    <Link href={`/sessions?id=${s.id}`}>{s.id}</Link>
                  </td>
                  <td>{s.requester}</td>
                  <td>
                    {s.resource} <span className="muted">as</span> {s.role}
                  </td>
                  <td>{s.account}</td>
                  <td>
                    <When iso={s.startedAt} />
                  </td>
                  <td>
                    {s.endedAt ? (
                      <>
                        <When iso={s.endedAt} />
                        {s.endReason ? <span className="muted"> ({s.endReason})</span> : null}
                      </>
                    ) : (
                      <span className="badge badge-active">live</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <Pager page={page} pages={pages} setPage={setPage} label="Recorded sessions pages" />
    </section>
  );
}
