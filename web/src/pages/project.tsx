import { useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { call } from '../api/client';
import { ErrorText, Page } from '../components/ui';
import { when } from '../format';
import { useLoad } from '../use-load';
import { MembersPanel } from './members';
import { RobotsPanel } from './robots';

const PAGE = 100;

function RepositoriesPanel({ name }: { name: string }) {
  const [search, setSearch] = useState('');
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const { data, error } = useLoad(
    () =>
      call('get', '/api/v1/projects/{name}/repositories', {
        path: { name },
        query: { limit: String(PAGE), ...(cursor && { cursor }), ...(search.trim() && { q: search.trim() }) },
      }),
    [name, cursor, search],
  );
  return (
    <section aria-labelledby="repositories">
      <h2 id="repositories">Repositories</h2>
      <label class="search">
        Search{' '}
        <input
          type="search"
          value={search}
          onInput={(e) => {
            setSearch(e.currentTarget.value);
            setCursors([]);
          }}
        />
      </label>
      <ErrorText error={error} />
      {data && (
        <p class="muted" data-testid="repository-total">
          {data.total.toLocaleString('en')} repositories
        </p>
      )}
      <table>
        <thead>
          <tr>
            <th scope="col">Repository</th>
            <th scope="col">Artifacts</th>
            <th scope="col">Tags</th>
            <th scope="col">Updated</th>
          </tr>
        </thead>
        <tbody>
          {data?.items.map((repository) => {
            const repo = repository.name.slice(name.length + 1);
            return (
              <tr key={repository.name}>
                <td>
                  <Link href={`/projects/${name}/repositories/${encodeURIComponent(repo)}`}>
                    {repository.name}
                  </Link>
                </td>
                <td class="num">{repository.artifacts}</td>
                <td class="num">{repository.tags}</td>
                <td>{when(repository.updatedAt)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <div class="pager">
        {cursors.length > 0 && (
          <button type="button" onClick={() => setCursors(cursors.slice(0, -1))}>
            Previous page
          </button>
        )}
        {data?.next && (
          <button type="button" onClick={() => setCursors([...cursors, data.next as string])}>
            Next page
          </button>
        )}
      </div>
    </section>
  );
}

export function ProjectPage({ name }: { name: string }) {
  const { data: access, error } = useLoad(
    () => call('get', '/api/v1/projects/{name}/access', { path: { name } }),
    [name],
  );
  const manages = access?.actions.includes('members:manage') ?? false;
  const [tab, setTab] = useState<'repositories' | 'members' | 'robots'>('repositories');
  return (
    <Page title={`Project ${name}`}>
      <p>
        <Link href="/">All projects</Link>
      </p>
      <ErrorText error={error} />
      {manages && (
        <div role="tablist" class="tabs">
          {(['repositories', 'members', 'robots'] as const).map((id) => (
            <button key={id} type="button" role="tab" aria-selected={tab === id} onClick={() => setTab(id)}>
              {id[0]?.toUpperCase() + id.slice(1)}
            </button>
          ))}
        </div>
      )}
      {tab === 'repositories' && <RepositoriesPanel name={name} />}
      {tab === 'members' && manages && <MembersPanel name={name} />}
      {tab === 'robots' && manages && <RobotsPanel name={name} />}
    </Page>
  );
}
