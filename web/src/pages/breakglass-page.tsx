import { type FormEvent, useEffect, useId, useState } from 'react';
import { type ApiError, api, idempotencyKey, ok } from '../api/client';
import type { Credential, Invocation } from '../api/types';
import { ErrorNote } from '../components/error-note';
import { StateBadge } from '../components/state-badge';
import { When } from '../components/when';
import { useLoad } from '../hooks/use-load';
import { Link } from '../router';
import { isReader, useMe } from '../session';
import { useStepUp } from '../step-up/step-up';
import { MyRequest } from './my-requests-page';

const POLL_MS = 2000;

/**
 * Emergency access without approval. The API does not say which `breakglass:` entries name the caller, so the
 * form asks for any resource and role and the server decides (NOT_ELIGIBLE, DURATION_TOO_LONG …), by code.
 */
export function BreakglassPage() {
  const me = useMe();
  const live = useLoad(
    () => ok(api.GET('/v1/breakglass', { params: { query: { live: true } } })).then((r) => r.invocations),
    [],
    POLL_MS,
  );
  // All of mine, ended too: a card acted on here stays in view after the after-use sweep releases it.
  const all = useLoad(() => ok(api.GET('/v1/breakglass')).then((r) => r.invocations), [], POLL_MS);
  const resources = useLoad(() => ok(api.GET('/v1/resources')).then((r) => r.resources), []);
  // Taken credentials stay in memory while the page is open: shown once, never fetched again.
  const [credentials, setCredentials] = useState<Record<string, Credential>>({});
  const [kept, setKept] = useState<ReadonlySet<string>>(new Set());
  useEffect(() => {
    const held = (live.data ?? []).filter((i) => i.holder === me.userId).map((i) => i.requestId);
    if (held.some((id) => !kept.has(id))) setKept((k) => new Set([...k, ...held]));
  }, [live.data, me.userId, kept]);
  const mine = (all.data ?? []).filter((i) => i.holder === me.userId && kept.has(i.requestId));

  return (
    <>
      <h1>Break-glass</h1>
      <p>
        Emergency access that skips approval. Security is alerted the moment you invoke it, the access is
        yours alone on that resource until it ends, and a postmortem follows every use (
        <Link href="/postmortems">Postmortems</Link>).
      </p>
      <InvokeForm
        resources={resources.data ?? []}
        onInvoked={async () => {
          await Promise.all([live.reload(), all.reload()]);
        }}
      />
      <h2>Your break-glass access</h2>
      {all.data && mine.length === 0 ? <p>You hold no break-glass access.</p> : null}
      <div className="cards">
        {mine.map((i) => (
          <MyRequest
            key={i.requestId}
            r={i.request}
            focused={false}
            kind={resources.data?.find((x) => x.id === i.resource)?.kind}
            credential={credentials[i.requestId]}
            onTaken={(c) => setCredentials((all) => ({ ...all, [i.requestId]: c }))}
            onChanged={async () => {
              await Promise.all([live.reload(), all.reload()]);
            }}
          />
        ))}
      </div>
      <Holders invocations={live.data} everyone={isReader(me)} />
      <ErrorNote error={live.error ?? all.error ?? resources.error} />
    </>
  );
}

function InvokeForm(props: {
  resources: { id: string; roles: { name: string }[] }[];
  onInvoked(): Promise<void>;
}) {
  const stepUp = useStepUp();
  const [resource, setResource] = useState('');
  const [role, setRole] = useState('');
  const [reason, setReason] = useState('');
  const [duration, setDuration] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const ids = { resource: useId(), role: useId(), reason: useId(), duration: useId(), help: useId() };
  const roles = props.resources.find((r) => r.id === resource)?.roles ?? [];

  const invoke = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      // One key across the step-up's retry: a repeat is answered as the first, never a second invocation.
      const headers = { 'Idempotency-Key': idempotencyKey() };
      const body = {
        resource,
        role,
        reason: reason.trim(),
        ...(duration.trim() ? { duration: duration.trim() } : {}),
      };
      const inv = await stepUp(() => ok(api.POST('/v1/breakglass', { body, headers })));
      setDone(
        `Broke glass on ${inv.resource} as ${inv.role} (${inv.requestId}); security was alerted on ${inv.channels.join(', ')}.`,
      );
      setReason('');
      await props.onInvoked();
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={invoke} aria-labelledby="invoke-h" className="card">
      <h2 id="invoke-h">Break glass</h2>
      <p id={ids.help} className="muted">
        The portal cannot list the policy’s break-glass entries that name you: pick the resource and role, and
        the server says whether you may. The duration is at most the entry’s maximum (empty: that maximum). It
        needs a second factor verified just now; the page asks for it.
      </p>
      <label htmlFor={ids.resource}>Resource</label>
      <select
        id={ids.resource}
        value={resource}
        required
        aria-describedby={ids.help}
        onChange={(e) => {
          setResource(e.target.value);
          setRole(props.resources.find((r) => r.id === e.target.value)?.roles[0]?.name ?? '');
        }}
      >
        <option value="">Choose…</option>
        {props.resources.map((r) => (
          <option key={r.id} value={r.id}>
            {r.id}
          </option>
        ))}
      </select>
      <label htmlFor={ids.role}>Role</label>
      <select id={ids.role} value={role} required onChange={(e) => setRole(e.target.value)}>
        {roles.map((r) => (
          <option key={r.name} value={r.name}>
            {r.name}
          </option>
        ))}
      </select>
      <label htmlFor={ids.reason}>Reason (the incident)</label>
      <input
        id={ids.reason}
        value={reason}
        required
        maxLength={500}
        onChange={(e) => setReason(e.target.value)}
      />
      <label htmlFor={ids.duration}>For how long (e.g. 15m; empty: the entry’s maximum)</label>
      <input
        id={ids.duration}
        value={duration}
        maxLength={20}
        onChange={(e) => setDuration(e.target.value)}
      />
      <div className="actions">
        <button type="submit" className="danger" disabled={busy}>
          Break glass
        </button>
      </div>
      <div role="status">{done ? <p className="done">{done}</p> : null}</div>
      <ErrorNote error={error} />
    </form>
  );
}

/** Who holds what now: one holder per resource. */
function Holders({ invocations, everyone }: { invocations: Invocation[] | undefined; everyone: boolean }) {
  return (
    <>
      <h2>Held now</h2>
      <p className="muted">
        {everyone
          ? 'Every break-glass use not yet followed up.'
          : 'Your break-glass uses not yet followed up.'}
      </p>
      {invocations && invocations.length === 0 ? <p>Nobody holds break-glass access.</p> : null}
      {invocations && invocations.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Break-glass holders</caption>
            <thead>
              <tr>
                <th scope="col">Resource</th>
                <th scope="col">Holder</th>
                <th scope="col">Role</th>
                <th scope="col">Since</th>
                <th scope="col">State</th>
                <th scope="col">Security</th>
              </tr>
            </thead>
            <tbody>
              {invocations.map((i) => (
                <tr key={i.requestId}>
                  <td>{i.resource}</td>
                  <td>{i.holder}</td>
                  <td>{i.role}</td>
                  <td>
                    <When iso={i.invokedAt} />
                  </td>
                  <td>
                    <StateBadge state={i.request.state} />
                    {i.drillId ? ' (drill)' : ''}
                  </td>
                  <td>
                    {i.acknowledgedAt ? (
                      <>
                        acknowledged <When iso={i.acknowledgedAt} />
                      </>
                    ) : i.escalationLevel > 0 ? (
                      `not acknowledged, escalated (level ${i.escalationLevel})`
                    ) : (
                      'alerted, not yet acknowledged'
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
