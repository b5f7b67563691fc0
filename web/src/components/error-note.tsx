import type { ApiError } from '../api/client';
import { useSession } from '../session';

/**
 * A refusal as the server put it: its code and its message, announced to screen readers. One that a fresh
 * sign-in mends (a first factor needs a sign-in in the last minutes) offers it, coming back to this page.
 */
export function ErrorNote({ error }: { error: ApiError | null }) {
  const { signIn } = useSession();
  if (!error) return null;
  const problems = error.details.problems as { path?: string; message?: string }[] | undefined;
  return (
    <div className="error" role="alert">
      <strong>{error.code}</strong>
      {error.status ? <span className="muted"> ({error.status})</span> : null}: {error.message}
      {Array.isArray(problems) && problems.length > 0 ? (
        <ul>
          {problems.slice(0, 5).map((p) => (
            <li key={`${p.path}:${p.message}`}>
              {p.path || '(body)'} {p.message}
            </li>
          ))}
        </ul>
      ) : null}
      {error.code === 'REAUTH_REQUIRED' ? (
        <p>
          <button type="button" onClick={signIn}>
            Sign in again
          </button>
        </p>
      ) : null}
    </div>
  );
}
