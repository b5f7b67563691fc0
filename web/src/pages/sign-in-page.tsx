import { api } from '../api/client';
import { useLoad } from '../hooks/use-load';
import { useSession } from '../session';

/** Signed out (or the session ended): sign in with the company's provider and come back to this page. */
export function SignInPage({ expired }: { expired: boolean }) {
  const { signIn } = useSession();
  // The provider's settings exist only when single sign-on is configured.
  const sso = useLoad(async () => (await api.GET('/v1/auth/config')).response.ok, []);
  return (
    <main id="main" className="sign-in">
      <h1>Stint</h1>
      <p>Just-in-time privileged access, with no standing privilege.</p>
      {expired ? <p role="alert">Your session has ended. Sign in again to continue where you were.</p> : null}
      {sso.data === false ? (
        <p>
          This server has no single sign-on configured, so the portal cannot sign you in. An operator sets{' '}
          <code>STINT_OIDC_ISSUER</code> (docs/identity.md); meanwhile the <code>stint</code> command line
          works with an API token.
        </p>
      ) : (
        <button type="button" onClick={signIn} disabled={sso.data === undefined}>
          Sign in
        </button>
      )}
    </main>
  );
}
