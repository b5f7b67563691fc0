import { type FormEvent, useId, useState } from 'react';
import { type ApiError, api, ok } from '../api/client';
import type { AuditEvent } from '../api/types';
import { type Verdict, verifyEvent } from '../audit/verify-event';
import { ErrorNote } from '../components/error-note';
import { Pager } from '../components/pager';
import { When } from '../components/when';
import { useLoad } from '../hooks/use-load';
import { navigate, useLocation } from '../router';

const PAGE = 25;

/**
 * The audit trail, a page at a time (by sequence number, as the API pages), filtered by request; any event can
 * be proved to be in the signed log, checked in this browser.
 */
export function AuditPage() {
  const { query } = useLocation();
  const request = query.get('request') ?? '';
  // Cursors of the pages seen so far: page n starts after cursors[n] (undefined: from the start).
  const [cursors, setCursors] = useState<(number | undefined)[]>([undefined]);
  const [page, setPage] = useState(0);
  const [filter, setFilter] = useState(request);
  const filterId = useId();
  const after = cursors[page];
  const events = useLoad(
    () =>
      ok(
        api.GET('/v1/audit/events', {
          params: {
            query: {
              limit: PAGE + 1,
              ...(after === undefined ? {} : { after }),
              ...(request ? { request } : {}),
            },
          },
        }),
      ).then((r) => r.events),
    [after, request],
  );
  const rows = (events.data ?? []).slice(0, PAGE);
  const hasNext = (events.data?.length ?? 0) > PAGE;

  const go = (p: number) => {
    if (p > page && rows.length > 0) {
      const next = [...cursors.slice(0, p), rows[rows.length - 1]?.seq];
      setCursors(next);
    }
    setPage(p);
  };
  const applyFilter = (e: FormEvent) => {
    e.preventDefault();
    setCursors([undefined]);
    setPage(0);
    navigate(filter.trim() ? `/audit?request=${encodeURIComponent(filter.trim())}` : '/audit', {
      replace: true,
    });
  };

  return (
    <>
      <h1>Audit trail</h1>
      <form onSubmit={applyFilter} className="inline-form">
        <label htmlFor={filterId}>Request id</label>
        <input
          id={filterId}
          value={filter}
          placeholder="req_…"
          pattern="req_[0-9a-f]{16}"
          onChange={(e) => setFilter(e.target.value)}
        />
        <button type="submit">Filter</button>
      </form>
      <ErrorNote error={events.error} />
      {events.data && rows.length === 0 ? <p>No events.</p> : null}
      {rows.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Audit events</caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">Request</th>
                <th scope="col">Proof</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((e) => (
                <EventRow key={e.seq} e={e} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <Pager page={page} pages={page + 1} setPage={go} hasNext={hasNext} label="Audit pages" />
    </>
  );
}

function EventRow({ e }: { e: AuditEvent }) {
  const [verdict, setVerdict] = useState<Verdict | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const verify = async () => {
    setBusy(true);
    setError(null);
    try {
      setVerdict(await verifyEvent(e.seq));
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <tr>
      <td>{e.seq}</td>
      <td>
        <When iso={e.at} />
      </td>
      <td>{e.actor}</td>
      <td>{e.action}</td>
      <td>{e.requestId ? <code>{e.requestId}</code> : '—'}</td>
      <td>
        <button type="button" onClick={verify} disabled={busy} aria-label={`Verify event ${e.seq}`}>
          Verify
        </button>
        <ErrorNote error={error} />
        {verdict ? <VerdictView v={verdict} /> : null}
      </td>
    </tr>
  );
}

function VerdictView({ v }: { v: Verdict }) {
  return (
    <div className={v.passed ? 'verdict ok' : 'verdict bad'} role="status" data-testid={`verdict-${v.seq}`}>
      <strong>
        {v.passed ? `Event ${v.seq} is in the signed log` : `Event ${v.seq} could not be proved`}
      </strong>
      <ul>
        {v.checks.map((c) => (
          <li key={c.what}>
            {c.passed ? '✓' : '✗'} {c.what}: {c.detail}
          </li>
        ))}
      </ul>
    </div>
  );
}
