import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Link, Route, Switch } from 'wouter-preact';
import { call, setCsrfToken, whenUnauthorized } from './api/client';
import { Page } from './components/ui';
import { AccountPage } from './pages/account';
import { AnomaliesPage } from './pages/anomalies';
import { ArtifactPage } from './pages/artifact';
import { ArtifactsPage } from './pages/artifacts';
import { AuditPage } from './pages/audit';
import { GcPage } from './pages/gc';
import { HealthPage } from './pages/health';
import { LoginPage } from './pages/login';
import { ProjectPage } from './pages/project';
import { ProjectsPage } from './pages/projects';
import { ReplicationPage } from './pages/replication';
import { ReplicationPolicyPage } from './pages/replication-executions';
import { ScannerPage } from './pages/scanner';
import { ScrubPage } from './pages/scrub';
import { SignInRefusedPage } from './pages/sign-in-refused';
import { UsersPage } from './pages/users';
import { WebhooksPanel } from './pages/webhooks';
import { type Session, SessionContext } from './session';

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [singleSignOn, setSingleSignOn] = useState(false);
  const signedIn = (value: Session | null) => {
    setCsrfToken(value?.csrfToken ?? '');
    setSession(value);
  };
  useEffect(() => {
    whenUnauthorized(() => signedIn(null));
    call('get', '/api/v1/session').then(
      (state) => {
        setSingleSignOn(state.singleSignOn);
        signedIn(state.session);
      },
      () => signedIn(null),
    );
  }, []);
  // A refused single sign-on lands here by redirect, signed in or not: say why, in words.
  if (location.pathname === '/sign-in/refused') return <SignInRefusedPage search={location.search} />;
  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null) return <LoginPage onLogin={signedIn} singleSignOn={singleSignOn} />;
  const adminOnly = (page: () => JSX.Element) => () => (session.systemAdmin ? page() : <NoSuchPage />);
  const logout = async () => {
    await call('delete', '/api/v1/session');
    signedIn(null);
  };
  return (
    <SessionContext.Provider value={{ session, logout }}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <nav class="top" aria-label="Main">
        <Link href="/" class="brand">
          Berth
        </Link>
        <Link href="/">Projects</Link>
        {session.systemAdmin && <Link href="/admin/users">Users</Link>}
        {session.systemAdmin && <Link href="/admin/gc">Garbage collection</Link>}
        {session.systemAdmin && <Link href="/admin/replication">Replication</Link>}
        {session.systemAdmin && <Link href="/admin/webhooks">Webhooks</Link>}
        {session.systemAdmin && <Link href="/admin/scrub">Integrity scrub</Link>}
        {session.systemAdmin && <Link href="/admin/scanner">Scanner</Link>}
        <Link href="/admin/audit">Audit log</Link>
        {session.systemAdmin && <Link href="/admin/health">System health</Link>}
        <span class="spacer" />
        <Link href="/account" aria-label={`Your account (${session.username})`}>
          {session.username}
        </Link>
        <button type="button" onClick={logout}>
          Log out
        </button>
      </nav>
      <main id="main">
        <Switch>
          <Route path="/" component={ProjectsPage} />
          <Route path="/projects/:name">{(p) => <ProjectPage name={p.name} />}</Route>
          <Route path="/projects/:name/repositories/:repo">
            {(p) => <ArtifactsPage project={p.name} repo={decodeURIComponent(p.repo)} />}
          </Route>
          <Route path="/projects/:name/repositories/:repo/artifacts/:digest">
            {(p) => <ArtifactPage project={p.name} repo={decodeURIComponent(p.repo)} digest={p.digest} />}
          </Route>
          <Route path="/admin/gc" component={GcPage} />
          <Route path="/admin/audit" component={AuditPage} />
          <Route path="/admin/audit/anomalies">
            {adminOnly(() => (
              <AnomaliesPage />
            ))}
          </Route>
          <Route path="/admin/replication">
            {adminOnly(() => (
              <ReplicationPage />
            ))}
          </Route>
          <Route path="/admin/replication/:id">
            {(p) => (session.systemAdmin ? <ReplicationPolicyPage id={p.id} /> : <NoSuchPage />)}
          </Route>
          <Route path="/admin/webhooks">
            {adminOnly(() => (
              <Page title="Webhooks">
                <WebhooksPanel />
              </Page>
            ))}
          </Route>
          <Route path="/admin/scrub">
            {adminOnly(() => (
              <ScrubPage />
            ))}
          </Route>
          <Route path="/admin/scanner">
            {adminOnly(() => (
              <ScannerPage />
            ))}
          </Route>
          <Route path="/admin/users">
            {adminOnly(() => (
              <UsersPage />
            ))}
          </Route>
          <Route path="/admin/health">
            {adminOnly(() => (
              <HealthPage />
            ))}
          </Route>
          <Route path="/account" component={AccountPage} />
          <Route>
            <NoSuchPage />
          </Route>
        </Switch>
      </main>
    </SessionContext.Provider>
  );
}

function NoSuchPage() {
  return (
    <p>
      No such page. <Link href="/">Back to the projects</Link>
    </p>
  );
}
