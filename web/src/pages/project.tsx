import { useState } from 'preact/hooks';
import { Link, useLocation, useSearch } from 'wouter-preact';
import { call } from '../api/client';
import { Pager, useCursors } from '../components/pager';
import { ErrorText, Page } from '../components/ui';
import { when } from '../format';
import { repositoryHref } from '../names';
import { type ProjectTab, projectRights, projectTabs } from '../permissions';
import { useSession } from '../session';
import { useLoad } from '../use-load';
import { MembersPanel } from './members';
import { PoliciesPanel } from './policies';
import { RobotsPanel } from './robots';
import { WebhooksPanel } from './webhooks';

const PAGE = 100;

function RepositoriesPanel({ name }: { name: string }) {
  const [search, setSearch] = useState('');
  const q = search.trim();
  const { stack, cursor, setStack } = useCursors([name, q]);
  const { data, error } = useLoad(
    () =>
      call('get', '/api/v1/projects/{name}/repositories', {
        path: { name },
        query: { limit: String(PAGE), ...(cursor && { cursor }), ...(q && { q }) },
      }),
    [name, cursor, q],
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
            return (
              <tr key={repository.name}>
                <td>
                  <Link href={repositoryHref(name, repository.name)}>{repository.name}</Link>
                </td>
                <td class="num">{repository.artifacts}</td>
                <td class="num">{repository.tags}</td>
                <td>{when(repository.updatedAt)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <Pager stack={stack} next={data?.next} onChange={setStack} label="Repository pages" />
    </section>
  );
}

const TAB_NAMES: Record<ProjectTab, string> = {
  repositories: 'Repositories',
  policies: 'Policies',
  members: 'Members',
  robots: 'Robots',
  webhooks: 'Webhooks',
};

export function ProjectPage({ name }: { name: string }) {
  const { session } = useSession();
  const { data: access, error } = useLoad(
    () => call('get', '/api/v1/projects/{name}/access', { path: { name } }),
    [name],
  );
  const rights = projectRights(access, session.systemAdmin);
  const tabs = access ? projectTabs(rights) : [];
  // The tab is in the address (?tab=policies), so a reload or a shared link opens it.
  const wanted = new URLSearchParams(useSearch()).get('tab');
  const [, navigate] = useLocation();
  const tab = tabs.find((id) => id === wanted) ?? tabs[0];
  return (
    <Page title={`Project ${name}`}>
      <p>
        <Link href="/">All projects</Link>
      </p>
      <ErrorText error={error} />
      {tabs.length > 1 && (
        <div role="tablist" class="tabs" aria-label="Project">
          {tabs.map((id) => (
            <button
              key={id}
              type="button"
              role="tab"
              aria-selected={tab === id}
              onClick={() => navigate(`/projects/${name}?tab=${id}`, { replace: true })}
            >
              {TAB_NAMES[id]}
            </button>
          ))}
        </div>
      )}
      {tab === 'repositories' && <RepositoriesPanel name={name} />}
      {tab === 'policies' && <PoliciesPanel name={name} rights={rights} />}
      {tab === 'members' && <MembersPanel name={name} />}
      {tab === 'robots' && <RobotsPanel name={name} />}
      {tab === 'webhooks' && <WebhooksPanel project={name} />}
    </Page>
  );
}
