import { useId, useState } from 'react';
import { type ApiError, api, idempotencyKey, ok } from '../api/client';
import type { AccessRequest, Resource } from '../api/types';
import { ErrorNote } from '../components/error-note';
import { History } from '../components/history';
import { Pager, usePage } from '../components/pager';
import { Countdown, When } from '../components/when';
import { formatSeconds, waitingText } from '../format';
import { useLoad } from '../hooks/use-load';
import { useMe } from '../session';
import { useStepUp } from '../step-up/step-up';

const POLL_MS = 5000;

/** Requests waiting for me, with what I need to decide: who, why, how risky, who else may act and who has. */
export function ApprovalsPage() {
  const inbox = useLoad(
    () =>
      ok(api.GET('/v1/requests', { params: { query: { scope: 'to-approve', limit: 500 } } })).then(
        (r) => r.requests,
      ),
    [],
    POLL_MS,
  );
  const resources = useLoad(() => ok(api.GET('/v1/resources')).then((r) => r.resources), []);
  const [decided, setDecided] = useState<string[]>([]);
  const { rows, page, pages, setPage } = usePage(inbox.data ?? []);

  return (
    <>
      <h1>Approvals</h1>
      <ErrorNote error={inbox.error} />
      <div role="status">
        {decided.map((line) => (
          <p key={line} className="done">
            {line}
          </p>
        ))}
      </div>
      {inbox.data && inbox.data.length === 0 ? <p>Nothing is waiting for you.</p> : null}
      <div className="cards">
        {rows.map((r) => (
          <Decision
            key={r.id}
            r={r}
            resource={resources.data?.find((x) => x.id === r.resource)}
            onDecided={async (line) => {
              setDecided((d) => [line, ...d].slice(0, 5));
              await inbox.reload();
            }}
          />
        ))}
      </div>
      <Pager page={page} pages={pages} setPage={setPage} label="Approvals pages" />
    </>
  );
}

function Decision({
  r,
  resource,
  onDecided,
}: {
  r: AccessRequest;
  resource: Resource | undefined;
  onDecided(line: string): Promise<void>;
}) {
  const me = useMe();
  const stepUp = useStepUp();
  const [comment, setComment] = useState('');
  const [history, setHistory] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const commentId = useId();

  const decide = async (decision: 'approve' | 'deny') => {
    setBusy(true);
    setError(null);
    try {
      const body = comment.trim() ? { comment: comment.trim() } : {};
      // One key for the decision, kept across the step-up's retry: the server answers a repeat as the first.
      const headers = { 'Idempotency-Key': idempotencyKey() };
      const call = () =>
        decision === 'approve'
          ? ok(api.POST('/v1/requests/{id}/approve', { params: { path: { id: r.id } }, body, headers }))
          : ok(api.POST('/v1/requests/{id}/deny', { params: { path: { id: r.id } }, body, headers }));
      const after = await stepUp(call);
      await onDecided(
        `${decision === 'approve' ? 'Approved' : 'Denied'} ${r.id} (${r.resource} as ${r.role}): now ${after.state}.`,
      );
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };

  const others = [...new Set(r.waitingFor.flatMap((w) => w.eligible))].filter((u) => u !== me.userId);
  return (
    <article className="card" aria-labelledby={`${r.id}-h`}>
      <h2 id={`${r.id}-h`}>
        {r.requester} asks for {r.resource} <span className="muted">as</span> {r.role}
      </h2>
      <dl className="facts">
        <dt>Reason</dt>
        <dd>{r.reason}</dd>
        <dt>Risk</dt>
        <dd>
          {resource ? (
            <>
              <span className={`badge risk-${resource.sensitivity}`}>{resource.sensitivity}</span>{' '}
              {resource.kind} · {resource.description}
            </>
          ) : (
            'unknown'
          )}
        </dd>
        <dt>For</dt>
        <dd>{formatSeconds(r.durationSeconds)}</dd>
        <dt>Asked</dt>
        <dd>
          <When iso={r.createdAt} /> (<code>{r.id}</code>, rule <code>{r.ruleId}</code>)
        </dd>
        <dt>Decision due</dt>
        <dd>
          <Countdown until={r.pendingUntil} label="Decision due" />
        </dd>
        <dt>Still needed</dt>
        <dd>{waitingText(r.waitingFor)}</dd>
        <dt>Who else may approve</dt>
        <dd>{others.length ? others.join(', ') : 'nobody else'}</dd>
        <dt>Who has acted</dt>
        <dd>
          {r.reviews.length
            ? r.reviews
                .map((v) => `${v.reviewer} ${v.decision === 'approve' ? 'approved' : 'denied'}`)
                .join('; ')
            : 'nobody yet'}
        </dd>
      </dl>
      <button type="button" className="link" aria-expanded={history} onClick={() => setHistory((h) => !h)}>
        {history ? 'Hide history' : 'Show history'}
      </button>
      {history ? <History requestId={r.id} /> : null}
      <label htmlFor={commentId}>Comment (optional)</label>
      <input id={commentId} value={comment} maxLength={2000} onChange={(e) => setComment(e.target.value)} />
      <div className="actions">
        <button type="button" onClick={() => decide('approve')} disabled={busy}>
          Approve
        </button>
        <button type="button" className="danger" onClick={() => decide('deny')} disabled={busy}>
          Deny
        </button>
      </div>
      <ErrorNote error={error} />
    </article>
  );
}
