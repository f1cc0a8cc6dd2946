import { useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { call } from '../api/client';
import { ErrorText, Page } from '../components/ui';
import { when } from '../format';
import { useSession } from '../session';
import { useLoad } from '../use-load';

interface Filter {
  actor?: string;
  action?: string;
  resource?: string;
  project?: string;
  from?: string;
  to?: string;
}

const TEXT_FIELDS = ['actor', 'action', 'resource', 'project'] as const;

/** A date input's day as the API's time: from its start (local time); `to` is exclusive, so the next day's start. */
function dayStart(day: string, next: boolean): string {
  const date = new Date(`${day}T00:00:00`);
  if (next) date.setDate(date.getDate() + 1);
  return String(date.getTime());
}

/** The download of what the filters select (the same filters as the list, all pages), in a format. */
function exportHref(filter: Filter, format: 'csv' | 'jsonl'): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(filter)) if (value) query.set(key, value);
  query.set('format', format);
  return `/api/v1/audit/export?${query}`;
}

export function AuditPage() {
  const { session } = useSession();
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
          for (const key of TEXT_FIELDS) {
            const value = String(form.get(key) ?? '').trim();
            if (value) next[key] = value;
          }
          const from = String(form.get('from') ?? '');
          const to = String(form.get('to') ?? '');
          if (from) next.from = dayStart(from, false);
          if (to) next.to = dayStart(to, true);
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
        <label>
          From <input name="from" type="date" />
        </label>
        <label>
          Until <input name="to" type="date" />
        </label>
        <button type="submit">Search</button>
      </form>
      {!error && (
        <p class="row-actions">
          Download what these filters select:{' '}
          <a class="button" href={exportHref(filter, 'csv')} download>
            Export CSV
          </a>{' '}
          <a class="button" href={exportHref(filter, 'jsonl')} download>
            Export JSON lines
          </a>
          {session.systemAdmin && <Link href="/admin/audit/anomalies">Anomalies the detector found</Link>}
        </p>
      )}
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
