import { type FormEvent, useEffect, useId, useMemo, useState } from 'react';
import { type ApiError, api, idempotencyKey, ok } from '../api/client';
import type { RequestPreview, Resource } from '../api/types';
import { ErrorNote } from '../components/error-note';
import { formatSeconds, waitingText } from '../format';
import { useLoad } from '../hooks/use-load';
import { navigate } from '../router';

const MAX_SHOWN = 12;

/** The request form: find a resource, pick a role, say why and for how long, and see the approval it needs. */
export function RequestPage() {
  const resources = useLoad(() => ok(api.GET('/v1/resources')).then((r) => r.resources), []);
  const [search, setSearch] = useState('');
  const [resourceId, setResourceId] = useState('');
  const [role, setRole] = useState('');
  const [reason, setReason] = useState('');
  const [duration, setDuration] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [sending, setSending] = useState(false);
  const ids = { search: useId(), role: useId(), reason: useId(), duration: useId(), preview: useId() };

  const all = resources.data ?? [];
  const matches = useMemo(() => {
    const q = search.trim().toLowerCase();
    return all.filter((r) =>
      q === '' ? true : [r.id, r.kind, r.description, r.sensitivity].some((t) => t.toLowerCase().includes(q)),
    );
  }, [all, search]);
  const resource = all.find((r) => r.id === resourceId);

  useEffect(() => {
    if (resource && !resource.roles.some((r) => r.name === role)) setRole(resource.roles[0]?.name ?? '');
  }, [resource, role]);

  const preview = usePreview(resourceId, role, reason, duration);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setSending(true);
    setError(null);
    try {
      const made = await ok(
        api.POST('/v1/requests', {
          body: {
            resource: resourceId,
            role,
            reason,
            ...(duration.trim() ? { duration: duration.trim() } : {}),
          },
          headers: { 'Idempotency-Key': idempotencyKey() },
        }),
      );
      navigate(`/requests?id=${encodeURIComponent(made.id)}`);
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setSending(false);
    }
  };

  return (
    <>
      <h1>Ask for access</h1>
      <ErrorNote error={resources.error} />
      <form onSubmit={submit} className="request-form">
        <label htmlFor={ids.search}>Find a resource</label>
        <input
          id={ids.search}
          type="search"
          value={search}
          placeholder="name, kind or description"
          onChange={(e) => setSearch(e.target.value)}
        />
        <fieldset>
          <legend>Resource</legend>
          {matches.length === 0 ? <p className="muted">No resource matches “{search}”.</p> : null}
          <ul className="choices">
            {matches.slice(0, MAX_SHOWN).map((r) => (
              <ResourceChoice key={r.id} r={r} checked={r.id === resourceId} onPick={setResourceId} />
            ))}
          </ul>
          {matches.length > MAX_SHOWN ? (
            <p className="muted">{matches.length - MAX_SHOWN} more: narrow the search to see them.</p>
          ) : null}
        </fieldset>

        <label htmlFor={ids.role}>Role</label>
        <select
          id={ids.role}
          value={role}
          onChange={(e) => setRole(e.target.value)}
          disabled={!resource}
          required
        >
          {resource ? null : <option value="">Pick a resource first</option>}
          {resource?.roles.map((r) => (
            <option key={r.name} value={r.name}>
              {r.name} — {r.description}
            </option>
          ))}
        </select>

        <label htmlFor={ids.reason}>Reason or ticket</label>
        <input
          id={ids.reason}
          value={reason}
          maxLength={500}
          placeholder="e.g. INC-4821"
          onChange={(e) => setReason(e.target.value)}
          aria-describedby={ids.preview}
        />

        <label htmlFor={ids.duration}>For how long</label>
        <input
          id={ids.duration}
          value={duration}
          maxLength={20}
          list={`${ids.duration}-list`}
          placeholder={
            preview.data ? `default ${formatSeconds(preview.data.durationSeconds)}` : 'e.g. 1h, 90m'
          }
          onChange={(e) => setDuration(e.target.value)}
          aria-describedby={ids.preview}
        />
        <datalist id={`${ids.duration}-list`}>
          <option value="30m" />
          <option value="1h" />
          <option value="2h" />
          <option value="4h" />
        </datalist>

        <section id={ids.preview} className="preview" aria-live="polite" aria-label="What this request needs">
          {resourceId && role ? (
            <PreviewText preview={preview.data} error={preview.error} />
          ) : (
            <p className="muted">Pick a resource and a role to see which approval it needs.</p>
          )}
        </section>

        <ErrorNote error={error} />
        <button type="submit" disabled={sending || !resourceId || !role}>
          Send request
        </button>
      </form>
    </>
  );
}

function ResourceChoice({ r, checked, onPick }: { r: Resource; checked: boolean; onPick(id: string): void }) {
  const id = useId();
  return (
    <li>
      <input
        type="radio"
        name="resource"
        id={id}
        value={r.id}
        checked={checked}
        onChange={() => onPick(r.id)}
      />
      <label htmlFor={id}>
        <strong>{r.id}</strong> <span className={`badge risk-${r.sensitivity}`}>{r.sensitivity}</span>{' '}
        <span className="muted">
          {r.kind} · {r.description}
        </span>
      </label>
    </li>
  );
}

/** Asks the server what this request would need, a moment after the last keystroke. */
function usePreview(resource: string, role: string, reason: string, duration: string) {
  const [state, setState] = useState<{ data?: RequestPreview; error: ApiError | null }>({ error: null });
  useEffect(() => {
    if (!resource || !role) return;
    let live = true;
    const t = window.setTimeout(async () => {
      try {
        const query = {
          resource,
          role,
          ...(reason.trim() ? { reason } : {}),
          ...(duration.trim() ? { duration: duration.trim() } : {}),
        };
        const data = await ok(api.GET('/v1/requests/preview', { params: { query } }));
        if (live) setState({ data, error: null });
      } catch (e) {
        if (live) setState({ error: e as ApiError });
      }
    }, 250);
    return () => {
      live = false;
      window.clearTimeout(t);
    };
  }, [resource, role, reason, duration]);
  return state;
}

function PreviewText({ preview, error }: { preview: RequestPreview | undefined; error: ApiError | null }) {
  if (error) return <ErrorNote error={error} />;
  if (!preview) return <p className="muted">Checking the policy…</p>;
  const auto = preview.waitingFor.length === 0;
  return (
    <div data-testid="preview">
      <p>
        {auto ? (
          <strong>Approved automatically</strong>
        ) : (
          <>
            <strong>Needs:</strong> {waitingText(preview.waitingFor)}
          </>
        )}{' '}
        (rule <code>{preview.ruleId}</code>).
      </p>
      <p>
        For {formatSeconds(preview.durationSeconds)}, at most {formatSeconds(preview.maxDurationSeconds)}.
        {preview.approverStepUp && !auto ? ' Approvers must verify a second factor.' : ''}
        {preview.reasonChecked ? '' : ' The reason is checked once you type it.'}
      </p>
    </div>
  );
}
