import { useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { call } from '../api/client';
import { Pager, useCursors } from '../components/pager';
import { ErrorText, Page, UsageBar } from '../components/ui';
import { bytes } from '../format';
import { useSession } from '../session';
import { useLoad } from '../use-load';
import { ProxyFields, proxyInput } from './project-settings';

/** A project's quota and usage, when the caller may read them (members and system administrators). */
async function quotaFor(name: string, systemAdmin: boolean) {
  if (!systemAdmin) {
    const access = await call('get', '/api/v1/projects/{name}/access', { path: { name } });
    if (!access.member) return undefined; // the server would refuse: not asked
  }
  return call('get', '/api/v1/projects/{name}/quota', { path: { name } });
}

/** Storage and repository count of one project, loaded per row. */
function ProjectFacts({ name }: { name: string }) {
  const { session } = useSession();
  const { data } = useLoad(
    () =>
      Promise.all([
        quotaFor(name, session.systemAdmin).catch(() => undefined),
        call('get', '/api/v1/projects/{name}/repositories', { path: { name }, query: { limit: '1' } }),
      ]),
    [name, session.systemAdmin],
  );
  const [quota, repositories] = data ?? [];
  return (
    <>
      <td class="num">{repositories ? repositories.total : '…'}</td>
      <td>
        {quota ? (
          <>
            {bytes(quota.usedBytes)}
            {quota.limitBytes !== null && ` of ${bytes(quota.limitBytes)}`}{' '}
            <UsageBar used={quota.usedBytes} limit={quota.limitBytes} />
          </>
        ) : (
          <span class="muted">not available</span>
        )}
      </td>
    </>
  );
}

function CreateProject({ onCreated }: { onCreated(): void }) {
  const [error, setError] = useState<unknown>(undefined);
  return (
    <form
      class="panel"
      aria-label="Create a project"
      onSubmit={async (event) => {
        event.preventDefault();
        const target = event.currentTarget;
        const form = new FormData(target);
        const proxy = proxyInput(form);
        try {
          await call('post', '/api/v1/projects', {
            body: {
              name: String(form.get('name')),
              public: form.get('public') === 'on',
              ...(proxy && { proxy }),
            },
          });
          target.reset();
          setError(undefined);
          onCreated();
        } catch (failure) {
          setError(failure);
        }
      }}
    >
      <div class="inline">
        <label>
          New project <input name="name" required pattern="[a-z0-9]+([._\-][a-z0-9]+)*" />
        </label>
        <label>
          <input type="checkbox" name="public" /> public
        </label>
        <button type="submit">Create</button>
      </div>
      <details>
        <summary>As a pull-through cache of another registry</summary>
        <ProxyFields />
      </details>
      <ErrorText error={error} />
    </form>
  );
}

export function ProjectsPage() {
  const { session } = useSession();
  const [search, setSearch] = useState('');
  const q = search.trim();
  const { stack, cursor, setStack } = useCursors([q]);
  const [error, setError] = useState<unknown>(undefined);
  // The server searches (`q=`) and pages: a search finds projects beyond the page loaded.
  const {
    data,
    error: loadError,
    reload,
  } = useLoad(
    () =>
      call('get', '/api/v1/projects', {
        query: { limit: '100', ...(cursor && { cursor }), ...(q && { q }) },
      }),
    [cursor, q],
  );
  const shown = data?.items ?? [];
  return (
    <Page title="Projects">
      {session.systemAdmin && <CreateProject onCreated={reload} />}
      <label class="search">
        Search <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
      </label>
      <ErrorText error={loadError ?? error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Access</th>
            <th scope="col">Repositories</th>
            <th scope="col">Storage</th>
            {session.systemAdmin && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {shown.map((project) => (
            <tr key={project.name}>
              <td>
                <Link href={`/projects/${project.name}`}>{project.name}</Link>
              </td>
              <td>{project.public ? 'public' : 'private'}</td>
              <ProjectFacts name={project.name} />
              {session.systemAdmin && (
                <td>
                  <button
                    type="button"
                    class="danger"
                    onClick={async () => {
                      if (!confirm(`Delete project ${project.name}?`)) return;
                      try {
                        await call('delete', '/api/v1/projects/{name}', { path: { name: project.name } });
                        reload();
                      } catch (failure) {
                        setError(failure);
                      }
                    }}
                  >
                    Delete
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {data && shown.length === 0 && <p class="muted">No projects.</p>}
      <Pager stack={stack} next={data?.next} onChange={setStack} label="Project pages" />
    </Page>
  );
}
