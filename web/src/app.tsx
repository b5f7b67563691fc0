import { type ComponentType, useEffect, useRef } from 'react';
import type { WhoAmI } from './api/types';
import { ErrorNote } from './components/error-note';
import { ApprovalsPage } from './pages/approvals-page';
import { AuditPage } from './pages/audit-page';
import { BreakglassPage } from './pages/breakglass-page';
import { FactorsPage } from './pages/factors-page';
import { GrantsPage } from './pages/grants-page';
import { HomePage } from './pages/home-page';
import { MyRequestsPage } from './pages/my-requests-page';
import { OperationsPage } from './pages/operations-page';
import { PostmortemsPage } from './pages/postmortems-page';
import { RequestPage } from './pages/request-page';
import { SessionsPage } from './pages/sessions-page';
import { SignInPage } from './pages/sign-in-page';
import { Link, useLocation } from './router';
import { isWatcher, useSession } from './session';
import { StepUpProvider } from './step-up/step-up';

/**
 * The pages, by path. Each path is also a server route (PORTAL_PAGES in src/server/routes/portal-routes.ts).
 * `may` hides a page's entry in the menu from those the server would refuse it to anyway (the server decides;
 * the menu only spares them a page of FORBIDDEN).
 */
const PAGES: Record<string, { title: string; page: ComponentType; may?: (me: WhoAmI) => boolean }> = {
  '/': { title: 'Home', page: HomePage },
  '/request': { title: 'Ask for access', page: RequestPage },
  '/requests': { title: 'My requests', page: MyRequestsPage },
  '/approvals': { title: 'Approvals', page: ApprovalsPage },
  '/grants': { title: 'Active grants', page: GrantsPage },
  '/audit': { title: 'Audit trail', page: AuditPage },
  '/factors': { title: 'Second factors', page: FactorsPage },
  '/operations': { title: 'Operations', page: OperationsPage },
  '/breakglass': { title: 'Break-glass', page: BreakglassPage },
  '/postmortems': { title: 'Postmortems', page: PostmortemsPage },
  '/sessions': { title: 'Sessions', page: SessionsPage, may: isWatcher },
};

export function App() {
  const { state, signOut } = useSession();
  const { path } = useLocation();
  const current = PAGES[path];
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);

  useEffect(() => {
    document.title = current ? `${current.title} · Stint` : 'Stint';
    // After a navigation in place, focus goes to the new page (screen readers announce it), not left on the link.
    if (first.current) first.current = false;
    else main.current?.focus({ preventScroll: true });
  }, [current]);

  if (state.status === 'loading') return <p className="loading">Loading…</p>;
  if (state.status === 'failed') {
    return (
      <main id="main">
        <h1>Stint</h1>
        <ErrorNote error={state.error} />
      </main>
    );
  }
  if (state.status === 'signed-out') return <SignInPage expired={state.expired} />;

  const Page = current?.page;
  return (
    <StepUpProvider>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header>
        <Link href="/" className="brand">
          Stint
        </Link>
        <nav aria-label="Portal">
          <ul>
            {Object.entries(PAGES)
              .filter(([p, { may }]) => p !== '/' && (may?.(state.me) ?? true))
              .map(([p, { title }]) => (
                <li key={p}>
                  <Link href={p} aria-current={p === path ? 'page' : undefined}>
                    {title}
                  </Link>
                </li>
              ))}
          </ul>
        </nav>
        <div className="who">
          <span>{state.me.name}</span>
          <button type="button" className="secondary" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1} ref={main}>
        {Page ? (
          <Page />
        ) : (
          <>
            <h1>Not found</h1>
            <p>
              There is no page at <code>{path}</code>. <Link href="/">Home</Link>
            </p>
          </>
        )}
      </main>
    </StepUpProvider>
  );
}
