import { useState } from 'preact/hooks';
import { call } from '../api/client';
import { ErrorText, Page } from '../components/ui';
import { when } from '../format';
import { useLoad } from '../use-load';

interface Filter {
  actor?: string;
  action?: string;
  resource?: string;
  project?: string;
}

export function AuditPage() {
  const [filter, setFilter] = useState<Filter>({});
  const [befores, setBefores] = useState<string[]>([]);
  const before = befores[befores.length - 1];
  const { data, error } = useLoad(
    () => call('get', '/api/v1/audit', { query: { ...filter, limit: '50', ...(before && { before }) } }),
    [JSON.stringify(filter), before],
  );
  return (
    <Page title="Audit log">
      <form
        class="inline"
        aria-label="Filters"
        onSubmit={(event) => {
          event.preventDefault();
          const form = new FormData(event.currentTarget);
          const next: Filter = {};
          for (const key of ['actor', 'action', 'resource', 'project'] as const) {
            const value = String(form.get(key) ?? '').trim();
            if (value) next[key] = value;
          }
          setBefores([]);
          setFilter(next);
        }}
      >
        <label>
          Actor <input name="actor" />
        </label>
        <label>
          Action <input name="action" placeholder="project.create" />
        </label>
        <label>
          Resource starts with <input name="resource" />
        </label>
        <label>
          Project <input name="project" />
        </label>
        <button type="submit">Search</button>
      </form>
      <ErrorText error={error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Actor</th>
            <th scope="col">Action</th>
            <th scope="col">Resource</th>
            <th scope="col">Result</th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>
          {data?.items.map((event) => (
            <tr key={event.id} data-testid="audit-event">
              <td>{when(event.time)}</td>
              <td>{event.actor}</td>
              <td>{event.action}</td>
              <td>{event.resource}</td>
              <td class={event.result === 'failure' ? 'error' : ''}>{event.result}</td>
              <td>{event.detail ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.items.length === 0 && <p class="muted">No events match.</p>}
      <div class="pager">
        {befores.length > 0 && (
          <button type="button" onClick={() => setBefores(befores.slice(0, -1))}>
            Newer
          </button>
        )}
        {data?.next && (
          <button type="button" onClick={() => setBefores([...befores, data.next as string])}>
            Older
          </button>
        )}
      </div>
    </Page>
  );
}
