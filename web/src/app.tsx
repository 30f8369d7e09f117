import { useEffect, useRef, useState } from 'preact/hooks';
import type { ComponentChildren, FunctionComponent } from 'preact';
import { api, type User } from './api';
import { can } from './access';
import { Link, match, navigate, useLocation } from './router';
import { SessionContext } from './session';
import { Loading, ErrorBox } from './components/ui';
import { SignIn } from './pages/SignIn';
import { Portfolio } from './pages/Portfolio';

// Screens with charts load their code when first opened, so the
// portfolio's first load carries only what it needs.
function lazy<P>(load: () => Promise<FunctionComponent<P>>): FunctionComponent<P> {
  let loaded: FunctionComponent<P> | null = null;
  return (props: P) => {
    const [C, setC] = useState<FunctionComponent<P> | null>(() => loaded);
    const [error, setError] = useState<unknown>(null);
    useEffect(() => {
      if (!C) load().then((c) => { loaded = c; setC(() => c); }, setError);
    }, []);
    if (error) return <ErrorBox error={error} />;
    return C ? <C {...(props as any)} /> : <Loading />;
  };
}

const StudyOverview = lazy(() => import('./pages/StudyOverview').then((m) => m.StudyOverview));
const Sites = lazy(() => import('./pages/Sites').then((m) => m.Sites));
const SitePage = lazy(() => import('./pages/Sites').then((m) => m.SitePage));
const Subjects = lazy(() => import('./pages/Subjects').then((m) => m.Subjects));
const SubjectPage = lazy(() => import('./pages/Subjects').then((m) => m.SubjectPage));
const AuditPage = lazy(() => import('./pages/Audit').then((m) => m.AuditPage));
const Admin = lazy(() => import('./pages/Admin').then((m) => m.Admin));

function Screen({ path, query }: { path: string; query: URLSearchParams }) {
  let p;
  if (path === '/' || path === '') return <Portfolio />;
  if ((p = match('/studies/:id', path))) return <StudyOverview id={p.id} />;
  if ((p = match('/studies/:id/sites', path))) return <Sites studyId={p.id} />;
  if ((p = match('/study-sites/:id', path))) return <SitePage id={p.id} />;
  if ((p = match('/studies/:id/subjects', path))) return <Subjects studyId={p.id} />;
  if ((p = match('/subjects/:id', path))) return <SubjectPage id={p.id} />;
  if (path === '/audit') return <AuditPage entity={query.get('entity') ?? ''} id={Number(query.get('id')) || 0} />;
  if (path === '/admin') return <Admin />;
  return (
    <main id="main"><h1>Page not found</h1><p><Link href="/">Back to the portfolio</Link></p></main>
  );
}

/**
 * Signing in again over the page: a modal of its own, above any dialog the
 * user was filling in, which stays open with what was typed.
 */
function Expired({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) {
      if (typeof d.showModal === 'function') d.showModal(); else d.setAttribute('open', '');
    }
  }, []);
  return <dialog ref={ref} class="expired" aria-labelledby="signin-title" onCancel={(e) => e.preventDefault()}>{children}</dialog>;
}

export function App() {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [expired, setExpired] = useState(false);
  const [bootError, setBootError] = useState<unknown>(null);
  const { path, query } = useLocation();

  useEffect(() => {
    api.current().then(setUser, (e) => { setBootError(e); setUser(null); });
  }, []);
  useEffect(() => api.onExpired(() => setExpired(true)), []);

  if (user === undefined) return <Loading what="Starting" />;
  if (!user) {
    return (
      <>
        {bootError && <ErrorBox error={bootError} />}
        <SignIn onSignedIn={(u) => { setExpired(false); setUser(u); if (path === '/signin') navigate('/', true); }} />
      </>
    );
  }

  async function signOut() {
    try { await api.signOut(); } catch { /* the session is gone either way */ }
    setUser(null);
    navigate('/', true);
  }

  const roles = [...new Set(user.grants.map((g) => g.role))].join(', ');
  return (
    <SessionContext.Provider value={user}>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <Link href="/" class="brand">ctms</Link>
        <nav aria-label="Main">
          <ul>
            <li><Link href="/" aria-current={path === '/' ? 'page' : undefined}>Portfolio</Link></li>
            {can.auditTrail(user) && <li><Link href="/audit" aria-current={path === '/audit' ? 'page' : undefined}>Audit trail</Link></li>}
            {can.administer(user) && <li><Link href="/admin" aria-current={path === '/admin' ? 'page' : undefined}>Administration</Link></li>}
          </ul>
        </nav>
        <div class="who">
          <span>{user.display_name || user.username} <small>({roles || 'no role'})</small></span>
          <button type="button" onClick={signOut}>Sign out</button>
        </div>
      </header>
      <Screen path={path} query={query} />
      {expired && (
        <Expired><SignIn expired username={user.username} onSignedIn={(u) => { setUser(u); setExpired(false); }} /></Expired>
      )}
    </SessionContext.Provider>
  );
}
