import { useState } from 'react';
import { api, ok } from '../api/client';
import type { Recording, SessionReview } from '../api/types';
import { ErrorNote } from '../components/error-note';
import { RecordingPlayer } from '../components/recording-player';
import { ReviewBadge } from '../components/review-badge';
import { StatementLog } from '../components/statement-table';
import { When } from '../components/when';
import { useLoad } from '../hooks/use-load';
import { Link } from '../router';
import { VerdictForm } from './verdict-form';

/** One recorded session: what it was, its recordings (segments, hashes, a player) and its review. */
export function SessionDetail({ id }: { id: string }) {
  const detail = useLoad(() => ok(api.GET('/v1/recorded-sessions/{id}', { params: { path: { id } } })), [id]);
  const [done, setDone] = useState<string | null>(null);
  const d = detail.data;
  return (
    <>
      <h1>Session {id}</h1>
      <p>
        <Link href="/sessions">All sessions</Link>
      </p>
      <ErrorNote error={detail.error} />
      {d ? (
        <>
          <dl className="facts">
            <dt>User</dt>
            <dd>
              {d.session.requester} <span className="muted">as</span> <code>{d.session.account}</code>
              {d.session.client ? <span className="muted"> from {d.session.client}</span> : null}
            </dd>
            <dt>Access</dt>
            <dd>
              {d.session.resource} <span className="muted">as</span> {d.session.role}{' '}
              <span className={`badge risk-${d.session.sensitivity}`}>{d.session.sensitivity}</span> (
              <Link href={`/audit?request=${d.session.requestId}`}>{d.session.requestId}</Link>)
            </dd>
            <dt>Protocol</dt>
            <dd>
              {d.session.protocol} to {d.session.server}
            </dd>
            <dt>Started</dt>
            <dd>
              <When iso={d.session.startedAt} />
            </dd>
            <dt>Ended</dt>
            <dd>
              {d.session.endedAt ? (
                <>
                  <When iso={d.session.endedAt} />
                  {d.session.endReason ? ` — ${d.session.endReason}` : ''}
                </>
              ) : (
                <span className="badge badge-active">live</span>
              )}
            </dd>
          </dl>

          <section aria-labelledby="review-h">
            <h2 id="review-h">Review</h2>
            {d.review ? <ReviewFacts review={d.review} /> : <p>This session was not drawn for review.</p>}
          </section>

          <section aria-labelledby="recordings-h">
            <h2 id="recordings-h">Recordings</h2>
            {d.recordings.length === 0 ? (
              <p>No terminal was recorded (SFTP and forwarded connections are audited, not recorded).</p>
            ) : null}
            {d.recordings.map((r, i) => (
              <RecordingCard key={r.id} recording={r} open={i === 0} />
            ))}
          </section>

          {d.review?.state === 'queued' ? (
            <VerdictForm
              sessionId={id}
              onDone={async (line) => {
                setDone(line);
                await detail.reload();
              }}
            />
          ) : null}
          <div role="status">{done ? <p className="done">{done}</p> : null}</div>
        </>
      ) : null}
    </>
  );
}

function ReviewFacts({ review }: { review: SessionReview }) {
  return (
    <dl className="facts">
      <dt>State</dt>
      <dd>
        <ReviewBadge review={review} />
      </dd>
      <dt>Why drawn</dt>
      <dd>
        {review.reasons.join(', ') || '—'}{' '}
        <span className="muted">
          (draw {review.draw.toFixed(4)}, rate {review.rate})
        </span>
      </dd>
      <dt>Due</dt>
      <dd>
        <When iso={review.dueAt} />
      </dd>
      {review.state === 'completed' ? (
        <>
          <dt>Verdict</dt>
          <dd>
            <strong>{review.verdict}</strong> by {review.reviewer}, <When iso={review.completedAt} />
          </dd>
          <dt>Notes</dt>
          <dd className="wrap">{review.notes || '—'}</dd>
        </>
      ) : null}
    </dl>
  );
}

function RecordingCard({ recording: r, open }: { recording: Recording; open: boolean }) {
  const [playing, setPlaying] = useState(open);
  const title = r.type === 'exec' && r.command ? `${r.type}: ${r.command}` : r.type;
  return (
    <article className="card" aria-labelledby={`${r.id}-h`}>
      <h3 id={`${r.id}-h`}>
        Recording <code>{r.id}</code> <span className="muted">({title})</span>
      </h3>
      <p>
        Channel {r.channel}, {r.state}, kept in {r.storage}; <When iso={r.startedAt} /> to{' '}
        <When iso={r.endedAt} />.
      </p>
      {/* Nothing in it takes focus, and it scrolls sideways on a phone: the box itself does, for the keyboard. */}
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard */}
      <section className="table-wrap" aria-label={`Segments of ${r.id}, scrolling`} tabIndex={0}>
        <table>
          <caption className="visually-hidden">Segments of {r.id}</caption>
          <thead>
            <tr>
              <th scope="col">Segment</th>
              <th scope="col">State</th>
              <th scope="col">Bytes</th>
              <th scope="col">SHA-256 (sealed in the audit trail)</th>
              <th scope="col">Recovered</th>
            </tr>
          </thead>
          <tbody>
            {r.segments.map((g) => (
              <tr key={g.index}>
                <td>{g.index}</td>
                <td>{g.state}</td>
                <td>{g.bytes ?? '—'}</td>
                <td>
                  <code className="wrap">{g.sha256 ?? 'not sealed yet'}</code>
                </td>
                <td>{g.recovered ? 'yes, after a crash' : 'no'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      {r.type === 'pg-query-log' ? (
        <StatementLog recordingId={r.id} />
      ) : playing ? (
        <RecordingPlayer recordingId={r.id} title={`Player for ${r.id}`} />
      ) : (
        <button type="button" onClick={() => setPlaying(true)}>
          Load the player
        </button>
      )}
    </article>
  );
}
