import { api, ok } from '../api/client';
import { useLoad } from '../hooks/use-load';
import { Link } from '../router';
import { useMe } from '../session';

/** Where sign-in lands: who you are, what is open, what waits for you. */
export function HomePage() {
  const me = useMe();
  const mine = useLoad(
    () =>
      ok(api.GET('/v1/requests', { params: { query: { scope: 'mine', limit: 500 } } })).then(
        (r) => r.requests,
      ),
    [],
  );
  const waiting = useLoad(
    () =>
      ok(api.GET('/v1/requests', { params: { query: { scope: 'to-approve', limit: 500 } } })).then(
        (r) => r.requests,
      ),
    [],
    10_000,
  );
  const count = (state: string) => mine.data?.filter((r) => r.state === state).length ?? 0;
  return (
    <>
      <h1>Hello, {me.name}</h1>
      <p className="muted">
        {me.userId} · {me.roles.join(', ')}
        {me.teams.length ? ` · teams ${me.teams.join(', ')}` : ''}
      </p>
      <ul className="tiles">
        <li>
          <Link href="/request">Ask for access</Link>
        </li>
        <li>
          <Link href="/requests">My requests</Link>: {count('pending')} pending, {count('active')} active
        </li>
        <li>
          <Link href="/approvals">Approvals</Link>: {waiting.data?.length ?? 0} waiting for you
        </li>
      </ul>
      <h2>Command line</h2>
      <p>
        Everything here works from the <code>stint</code> command too: <code>stint login</code>, then{' '}
        <code>stint request &lt;resource&gt; --role &lt;role&gt; --reason &lt;ticket&gt;</code>. The API is
        described at <a href="/openapi.json">/openapi.json</a>.
      </p>
    </>
  );
}
