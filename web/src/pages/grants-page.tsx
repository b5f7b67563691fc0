import { useState } from 'react';
import { type ApiError, api, idempotencyKey, ok } from '../api/client';
import type { AccessRequest } from '../api/types';
import { ErrorNote } from '../components/error-note';
import { Pager, usePage } from '../components/pager';
import { Countdown, When } from '../components/when';
import { useLoad } from '../hooks/use-load';
import { isReader, useMe } from '../session';

const POLL_MS = 5000;

/** Access that is live now: everyone's for security, auditors and admins; otherwise one's own. */
export function GrantsPage() {
  const me = useMe();
  const everyone = isReader(me);
  const grants = useLoad(
    () =>
      ok(
        api.GET('/v1/requests', {
          params: { query: { scope: everyone ? 'all' : 'mine', state: 'active', limit: 500 } },
        }),
      ).then((r) => r.requests),
    [everyone],
    POLL_MS,
  );
  const { rows, page, pages, setPage } = usePage(grants.data ?? []);
  return (
    <>
      <h1>Active grants</h1>
      <p className="muted">
        {everyone ? 'Everyone’s access that is live now.' : 'Your access that is live now.'}
      </p>
      <ErrorNote error={grants.error} />
      {grants.data && grants.data.length === 0 ? <p>No access is live.</p> : null}
      {rows.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Active grants</caption>
            <thead>
              <tr>
                <th scope="col">Request</th>
                <th scope="col">Who</th>
                <th scope="col">Access</th>
                <th scope="col">Since</th>
                <th scope="col">Left</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((g) => (
                <GrantRow
                  key={g.id}
                  g={g}
                  canEnd={
                    me.userId === g.requester || me.roles.some((r) => r === 'security' || r === 'admin')
                  }
                  onChanged={grants.reload}
                />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <Pager page={page} pages={pages} setPage={setPage} label="Active grants pages" />
    </>
  );
}

function GrantRow({
  g,
  canEnd,
  onChanged,
}: {
  g: AccessRequest;
  canEnd: boolean;
  onChanged(): Promise<void>;
}) {
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const end = async () => {
    if (!window.confirm(`End ${g.requester}'s access to ${g.resource} (${g.role}) now?`)) return;
    setBusy(true);
    try {
      await ok(
        api.POST('/v1/requests/{id}/revoke', {
          params: { path: { id: g.id } },
          body: { comment: 'ended from the portal' },
          headers: { 'Idempotency-Key': idempotencyKey() },
        }),
      );
      await onChanged();
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <tr>
      <td>
        <code>{g.id}</code>
      </td>
      <td>{g.requester}</td>
      <td>
        {g.resource} / {g.role}
      </td>
      <td>{g.activatedAt ? <When iso={g.activatedAt} /> : '—'}</td>
      <td>{g.expiresAt ? <Countdown until={g.expiresAt} label={`${g.id} access left`} /> : '—'}</td>
      <td>
        {canEnd ? (
          <button
            type="button"
            className="danger"
            onClick={end}
            disabled={busy}
            aria-label={`End now ${g.id}`}
          >
            End now
          </button>
        ) : null}
        <ErrorNote error={error} />
      </td>
    </tr>
  );
}
