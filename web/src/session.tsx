import { createContext, type ReactNode, useCallback, useContext, useEffect, useState } from 'react';
import { ApiError, api, ok, setCsrfToken, whenSignedOut } from './api/client';
import type { SessionInfo, WhoAmI } from './api/types';
import { isLocalPath, navigate } from './router';

export type SessionState =
  | { status: 'loading' }
  | { status: 'signed-out'; expired: boolean }
  | { status: 'failed'; error: ApiError }
  | { status: 'signed-in'; me: WhoAmI; session: SessionInfo };

/** Where to come back to after the identity provider: kept for this tab only, a path of this origin only. */
const RETURN_TO = 'stint.returnTo';

interface SessionApi {
  state: SessionState;
  /** Remembers this page, then goes through the provider's sign-in (/auth/login → … → /). */
  signIn(): void;
  signOut(): Promise<void>;
}

const Session = createContext<SessionApi | null>(null);

export function useSession(): SessionApi {
  const s = useContext(Session);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

/** The signed-in person (only under a page that rendered because someone is). */
export function useMe(): WhoAmI {
  const { state } = useSession();
  if (state.status !== 'signed-in') throw new Error('not signed in');
  return state.me;
}

export const isReader = (me: WhoAmI) =>
  me.roles.some((r) => r === 'security' || r === 'auditor' || r === 'admin');

/** Who watches recorded sessions and reviews them: security and auditors, not admins as such (as the server has it). */
export const isWatcher = (me: WhoAmI) => me.roles.some((r) => r === 'security' || r === 'auditor');

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ status: 'loading' });

  useEffect(() => {
    // Any 401 means the session is gone: an expired cookie, a sign-out in another tab, a revoked session.
    whenSignedOut(() => setState((s) => ({ status: 'signed-out', expired: s.status === 'signed-in' })));
    void (async () => {
      try {
        const session = await ok(api.GET('/auth/session'));
        setCsrfToken(session.csrfToken);
        const me = await ok(api.GET('/v1/whoami'));
        setState({ status: 'signed-in', me, session });
        const back = sessionStorage.getItem(RETURN_TO);
        sessionStorage.removeItem(RETURN_TO);
        if (isLocalPath(back) && back !== `${location.pathname}${location.search}`)
          navigate(back, { replace: true });
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) setState({ status: 'signed-out', expired: false });
        else setState({ status: 'failed', error: e as ApiError });
      }
    })();
  }, []);

  const signIn = useCallback(() => {
    sessionStorage.setItem(RETURN_TO, `${location.pathname}${location.search}`);
    location.assign('/auth/login');
  }, []);

  const signOut = useCallback(async () => {
    await ok(api.POST('/auth/logout')).catch(() => undefined);
    setCsrfToken(null);
    setState({ status: 'signed-out', expired: false });
    navigate('/', { replace: true });
  }, []);

  return <Session.Provider value={{ state, signIn, signOut }}>{children}</Session.Provider>;
}
