import { type FormEvent, useId, useState } from 'react';
import { type ApiError, api, idempotencyKey, ok } from '../api/client';
import type { Postmortem } from '../api/types';
import { ErrorNote } from '../components/error-note';
import { Pager, usePage } from '../components/pager';
import { When } from '../components/when';
import { useLoad } from '../hooks/use-load';
import { Link, useLocation } from '../router';
import { useStepUp } from '../step-up/step-up';

type Filter = 'all' | 'open' | 'overdue' | 'closed';
const CLASSIFICATIONS = ['emergency', 'misuse', 'drill'] as const;

/** Postmortems of break-glass uses: the list, or one (`?id=pm_…`) with its timeline and the form to close it. */
export function PostmortemsPage() {
  const { query } = useLocation();
  const id = query.get('id');
  return id ? <OnePostmortem id={id} /> : <PostmortemList />;
}

function PostmortemBadge({ pm }: { pm: Postmortem }) {
  if (pm.state === 'closed') return <span className="badge badge-expired">closed</span>;
  if (pm.overdue) return <span className="badge badge-failed">overdue</span>;
  return <span className="badge badge-pending">open</span>;
}

function PostmortemList() {
  const [filter, setFilter] = useState<Filter>('all');
  const filterId = useId();
  const list = useLoad(
    () =>
      ok(
        api.GET('/v1/breakglass/postmortems', {
          params: {
            query:
              filter === 'all'
                ? {}
                : filter === 'overdue'
                  ? { state: 'open', overdue: true }
                  : { state: filter },
          },
        }),
      ).then((r) => r.postmortems),
    [filter],
  );
  const { rows, page, pages, setPage } = usePage(list.data ?? []);
  return (
    <>
      <h1>Postmortems</h1>
      <p className="muted">
        Every break-glass use is followed by one, whatever happened: yours, or everyone’s for security,
        auditors and admins.
      </p>
      <label htmlFor={filterId}>Show</label>
      <select id={filterId} value={filter} onChange={(e) => setFilter(e.target.value as Filter)}>
        <option value="all">all</option>
        <option value="open">open</option>
        <option value="overdue">overdue</option>
        <option value="closed">closed</option>
      </select>
      <ErrorNote error={list.error} />
      {list.data && list.data.length === 0 ? <p>No postmortems here.</p> : null}
      {rows.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Postmortems</caption>
            <thead>
              <tr>
                <th scope="col">Postmortem</th>
                <th scope="col">Resource</th>
                <th scope="col">Owner</th>
                <th scope="col">Due</th>
                <th scope="col">State</th>
                <th scope="col">Classification</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((pm) => (
                <tr key={pm.id} className={pm.overdue && pm.state === 'open' ? 'overdue' : undefined}>
                  <td>
                    <Link href={`/postmortems?id=${pm.id}`}>{pm.id}</Link>
                  </td>
                  <td>{pm.resource ?? pm.sealId ?? '—'}</td>
                  <td>{pm.owner}</td>
                  <td>
                    <When iso={pm.due} />
                  </td>
                  <td>
                    <PostmortemBadge pm={pm} />
                  </td>
                  <td>{pm.classification ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <Pager page={page} pages={pages} setPage={setPage} label="Postmortems pages" />
    </>
  );
}

function OnePostmortem({ id }: { id: string }) {
  const pm = useLoad(
    () => ok(api.GET('/v1/breakglass/postmortems/{id}', { params: { path: { id } } })),
    [id],
  );
  const p = pm.data;
  const [done, setDone] = useState<string | null>(null);
  return (
    <>
      <h1>Postmortem {id}</h1>
      <p>
        <Link href="/postmortems">All postmortems</Link>
      </p>
      <ErrorNote error={pm.error} />
      {p ? (
        <>
          <dl className="facts">
            <dt>State</dt>
            <dd>
              <PostmortemBadge pm={p} />
              {p.closedAt ? (
                <>
                  {' '}
                  <When iso={p.closedAt} /> by {p.closedBy}
                </>
              ) : null}
            </dd>
            <dt>Of</dt>
            <dd>
              {p.subject === 'grant' ? 'a break-glass grant' : `an ${p.subject} unseal`}
              {p.resource ? ` on ${p.resource}` : ''}
              {p.requestId ? (
                <>
                  {' '}
                  (<Link href={`/audit?request=${p.requestId}`}>{p.requestId}</Link>)
                </>
              ) : null}
            </dd>
            <dt>Owner</dt>
            <dd>{p.owner}</dd>
            <dt>Opened</dt>
            <dd>
              <When iso={p.openedAt} />
            </dd>
            <dt>Due</dt>
            <dd>
              <When iso={p.due} />
            </dd>
            <dt>Classification</dt>
            <dd>{p.classification ?? 'not set'}</dd>
            <dt>Root cause</dt>
            <dd className="wrap">{p.rootCause ?? 'not set'}</dd>
            <dt>Follow-ups</dt>
            <dd>
              {p.followUps.length ? (
                <ul>
                  {p.followUps.map((f) => (
                    <li key={f}>{f}</li>
                  ))}
                </ul>
              ) : (
                'none'
              )}
            </dd>
          </dl>
          <h2>Timeline</h2>
          <p className="muted">Read from the audit trail as it is now.</p>
          <ol aria-label={`Timeline of ${id}`} className="timeline">
            {p.timeline.map((t) => (
              <li key={t.seq}>
                <When iso={t.at} /> <code>{t.action}</code> by {t.actor}{' '}
                <span className="muted">(event {t.seq})</span>
              </li>
            ))}
          </ol>
          {p.state === 'open' ? (
            <FillForm
              pm={p}
              onSaved={async (line) => {
                setDone(line);
                await pm.reload();
              }}
            />
          ) : null}
          <div role="status">{done ? <p className="done">{done}</p> : null}</div>
        </>
      ) : null}
    </>
  );
}

function FillForm({ pm, onSaved }: { pm: Postmortem; onSaved(line: string): Promise<void> }) {
  const stepUp = useStepUp();
  const [classification, setClassification] = useState<string>(pm.classification ?? '');
  const [rootCause, setRootCause] = useState(pm.rootCause ?? '');
  const [followUps, setFollowUps] = useState(pm.followUps.join('\n'));
  const [owner, setOwner] = useState(pm.owner);
  const [due, setDue] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const ids = { cls: useId(), cause: useId(), follow: useId(), owner: useId(), due: useId() };
  const path = { params: { path: { id: pm.id } } };

  const run = async (work: () => Promise<unknown>, line: string) => {
    setBusy(true);
    setError(null);
    try {
      await stepUp(work);
      await onSaved(line);
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };
  const save = (e: FormEvent) => {
    e.preventDefault();
    const headers = { 'Idempotency-Key': idempotencyKey() };
    const body = {
      ...(owner.trim() && owner.trim() !== pm.owner ? { owner: owner.trim() } : {}),
      ...(due.trim() ? { due: due.trim() } : {}),
      ...(classification ? { classification: classification as (typeof CLASSIFICATIONS)[number] } : {}),
      ...(rootCause.trim() ? { rootCause: rootCause.trim() } : {}),
      followUps: followUps
        .split('\n')
        .map((f) => f.trim())
        .filter(Boolean),
    };
    void run(() => ok(api.POST('/v1/breakglass/postmortems/{id}', { ...path, body, headers })), 'Saved.');
  };
  const close = () => {
    const headers = { 'Idempotency-Key': idempotencyKey() };
    void run(() => ok(api.POST('/v1/breakglass/postmortems/{id}/close', { ...path, headers })), 'Closed.');
  };

  return (
    <form onSubmit={save} aria-labelledby="fill-h" className="card">
      <h2 id="fill-h">Fill in and close</h2>
      <p className="muted">
        Its owner or security may. It closes once it has a classification and a root cause.
      </p>
      <fieldset>
        <legend>Classification</legend>
        {CLASSIFICATIONS.map((c) => (
          <label key={c} htmlFor={`${ids.cls}-${c}`} className="choice">
            <input
              type="radio"
              id={`${ids.cls}-${c}`}
              name={ids.cls}
              value={c}
              checked={classification === c}
              onChange={() => setClassification(c)}
            />{' '}
            {c}
          </label>
        ))}
      </fieldset>
      <label htmlFor={ids.cause}>Root cause</label>
      <textarea
        id={ids.cause}
        rows={4}
        maxLength={5000}
        value={rootCause}
        onChange={(e) => setRootCause(e.target.value)}
      />
      <label htmlFor={ids.follow}>Follow-ups (one a line)</label>
      <textarea id={ids.follow} rows={3} value={followUps} onChange={(e) => setFollowUps(e.target.value)} />
      <label htmlFor={ids.owner}>Owner</label>
      <input id={ids.owner} value={owner} maxLength={200} onChange={(e) => setOwner(e.target.value)} />
      <label htmlFor={ids.due}>Due in (from now, e.g. 3d; empty: unchanged)</label>
      <input id={ids.due} value={due} maxLength={20} onChange={(e) => setDue(e.target.value)} />
      <div className="actions">
        <button type="submit" disabled={busy}>
          Save
        </button>
        <button type="button" className="secondary" onClick={close} disabled={busy}>
          Close postmortem
        </button>
      </div>
      <ErrorNote error={error} />
    </form>
  );
}
