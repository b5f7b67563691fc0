import { useEffect, useId, useState } from 'react';
import { type ApiError, api, idempotencyKey, ok } from '../api/client';
import type { AccessRequest, Credential, RequestState } from '../api/types';
import { CredentialPanel } from '../components/credential-panel';
import { ErrorNote } from '../components/error-note';
import { Pager, usePage } from '../components/pager';
import { StateBadge } from '../components/state-badge';
import { Countdown, When } from '../components/when';
import { formatSeconds, waitingText } from '../format';
import { useLoad } from '../hooks/use-load';
import { Link, useLocation } from '../router';

const POLL_MS = 2000;
const OPEN: readonly RequestState[] = ['pending', 'approved', 'active'];
type Filter = 'open' | 'all' | RequestState;

/** My requests, polled: a pending one turns approved, then active, on screen without a reload. */
export function MyRequestsPage() {
  const { query } = useLocation();
  const focus = query.get('id');
  const [filter, setFilter] = useState<Filter>('open');
  const list = useLoad(
    () =>
      ok(api.GET('/v1/requests', { params: { query: { scope: 'mine', limit: 500 } } })).then(
        (r) => r.requests,
      ),
    [],
    POLL_MS,
  );
  const resources = useLoad(() => ok(api.GET('/v1/resources')).then((r) => r.resources), []);
  // Taken credentials live here, in memory, for as long as the page is open: shown once, never fetched again.
  const [credentials, setCredentials] = useState<Record<string, Credential>>({});
  // Requests acted on here stay in view whatever their state becomes, as does the one the link points at.
  const [touched, setTouched] = useState<ReadonlySet<string>>(new Set());
  const filterId = useId();

  const shown = (list.data ?? []).filter(
    (r) =>
      r.id === focus ||
      touched.has(r.id) ||
      (filter === 'all' ? true : filter === 'open' ? OPEN.includes(r.state) : r.state === filter),
  );
  const { rows, page, pages, setPage } = usePage(shown);

  return (
    <>
      <h1>My requests</h1>
      <p>
        <Link href="/request">Ask for access</Link>
      </p>
      <label htmlFor={filterId}>Show</label>
      <select id={filterId} value={filter} onChange={(e) => setFilter(e.target.value as Filter)}>
        <option value="open">open (pending, approved, active)</option>
        <option value="all">all</option>
        <option value="pending">pending</option>
        <option value="active">active</option>
        <option value="expired">expired</option>
        <option value="revoked">ended early</option>
        <option value="denied">denied</option>
      </select>
      <ErrorNote error={list.error} />
      {list.data && shown.length === 0 ? <p>Nothing here.</p> : null}
      <div className="cards">
        {rows.map((r) => (
          <MyRequest
            key={r.id}
            r={r}
            focused={r.id === focus}
            kind={resources.data?.find((x) => x.id === r.resource)?.kind}
            credential={credentials[r.id]}
            onTaken={(c) => setCredentials((all) => ({ ...all, [r.id]: c }))}
            onChanged={async () => {
              setTouched((t) => new Set(t).add(r.id));
              await list.reload();
            }}
          />
        ))}
      </div>
      <Pager page={page} pages={pages} setPage={setPage} label="My requests pages" />
    </>
  );
}

export function MyRequest(props: {
  r: AccessRequest;
  focused: boolean;
  kind: string | undefined;
  credential: Credential | undefined;
  onTaken(c: Credential): void;
  onChanged(): Promise<void>;
}) {
  const { r, credential } = props;
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [publicKey, setPublicKey] = useState('');
  const keyId = useId();

  useEffect(() => {
    if (props.focused) document.getElementById(r.id)?.scrollIntoView({ block: 'center' });
  }, [props.focused, r.id]);

  const act = async (work: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
      await props.onChanged();
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };
  const path = { params: { path: { id: r.id } }, headers: { 'Idempotency-Key': idempotencyKey() } };
  const take = () =>
    act(async () => {
      const body = props.kind === 'ssh' ? { publicKey: publicKey.trim() } : {};
      props.onTaken(await ok(api.POST('/v1/requests/{id}/credentials', { ...path, body })));
    });
  const endNow = () => {
    if (
      !window.confirm(
        `End access to ${r.resource} (${r.role}) now? The credential is removed and sessions end.`,
      )
    )
      return;
    void act(() =>
      ok(api.POST('/v1/requests/{id}/revoke', { ...path, body: { comment: 'ended from the portal' } })),
    );
  };
  const withdraw = () =>
    act(() =>
      ok(api.POST('/v1/requests/{id}/withdraw', { ...path, body: { comment: 'withdrawn from the portal' } })),
    );

  return (
    <article id={r.id} className={`card${props.focused ? ' focused' : ''}`} aria-labelledby={`${r.id}-h`}>
      <h2 id={`${r.id}-h`}>
        {r.resource} <span className="muted">as</span> {r.role} <StateBadge state={r.state} />
      </h2>
      <p className="muted">
        <code>{r.id}</code> · asked <When iso={r.createdAt} /> · for {formatSeconds(r.durationSeconds)}
      </p>
      <p>Reason: {r.reason}</p>
      {r.state === 'pending' ? (
        <>
          <p>Waiting for {waitingText(r.waitingFor)}</p>
          <p>
            Decision due: <Countdown until={r.pendingUntil} label="Decision due" />
          </p>
        </>
      ) : null}
      {r.reviews.length > 0 ? (
        <p>
          {r.reviews
            .map((v) => `${v.reviewer} ${v.decision === 'approve' ? 'approved' : 'denied'}`)
            .join('; ')}
        </p>
      ) : null}
      {r.state === 'active' && r.expiresAt ? (
        <p>
          Access ends <When iso={r.expiresAt} />: <Countdown until={r.expiresAt} label="Access left" />
        </p>
      ) : null}
      {r.endedAt ? (
        <p>
          Ended <When iso={r.endedAt} />
          {r.endedBy ? ` by ${r.endedBy}` : ''}
          {r.endReason ? ` (${r.endReason})` : ''}; on the target: {r.revocation}
        </p>
      ) : null}
      {credential ? <CredentialPanel credential={credential} /> : null}
      {r.state === 'active' && r.credentialShown && !credential ? (
        <p className="muted">The credential was shown once already.</p>
      ) : null}
      {r.state === 'active' && !r.credentialShown && props.kind === 'ssh' ? (
        <>
          <label htmlFor={keyId}>Your SSH public key (the certificate is made for it)</label>
          <textarea id={keyId} rows={2} value={publicKey} onChange={(e) => setPublicKey(e.target.value)} />
        </>
      ) : null}
      <div className="actions">
        {r.state === 'active' && !r.credentialShown ? (
          <button type="button" onClick={take} disabled={busy}>
            Show credential (once)
          </button>
        ) : null}
        {r.state === 'active' ? (
          <button type="button" className="danger" onClick={endNow} disabled={busy}>
            End now
          </button>
        ) : null}
        {r.state === 'pending' || r.state === 'approved' ? (
          <button type="button" className="secondary" onClick={withdraw} disabled={busy}>
            Withdraw
          </button>
        ) : null}
      </div>
      <ErrorNote error={error} />
    </article>
  );
}
