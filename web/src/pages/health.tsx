import { Link } from 'wouter-preact';
import { call } from '../api/client';
import { ErrorText, Page } from '../components/ui';
import { bytes, when } from '../format';
import { useLoad } from '../use-load';

const CHECK_NAMES: Record<string, string> = { metadata: 'Database', storage: 'Storage' };
const STATUS_WORDS = {
  ready: 'Ready: every dependency answers',
  unavailable: 'Unavailable: a dependency does not answer',
  'shutting down': 'Shutting down',
} as const;

function percentOf(used: number, capacity: number): number {
  return capacity <= 0 ? 100 : Math.min(100, Math.floor((used / capacity) * 100));
}

/** What /healthz and /readyz see, storage use, and the last garbage collection (system administrators). */
export function HealthPage() {
  const { data, error, reload } = useLoad(
    () =>
      Promise.all([
        call('get', '/api/v1/system/health'),
        call('get', '/api/v1/usage'),
        call('get', '/api/v1/gc/runs', { query: { limit: '1' } }),
      ]),
    [],
  );
  const [health, usage, runs] = data ?? [];
  const lastRun = runs?.items[0];
  const projects = [...(usage?.projects ?? [])].sort((a, b) => b.usedBytes - a.usedBytes);
  return (
    <Page
      title="System health"
      actions={
        <button type="button" onClick={reload}>
          Check again
        </button>
      }
    >
      <ErrorText error={error} />
      {health && (
        <section aria-labelledby="health-state">
          <h2 id="health-state">
            <span class={health.status === 'ready' ? 'ok' : 'error'} data-testid="health-status">
              {STATUS_WORDS[health.status]}
            </span>
          </h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Dependency</th>
                <th scope="col">State</th>
                <th scope="col" class="num">
                  Answered in
                </th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {health.checks.map((check) => (
                <tr key={check.name} data-testid={`check-${check.name}`}>
                  <th scope="row">
                    {CHECK_NAMES[check.name] ?? check.name}{' '}
                    <span class="muted">
                      ({check.name === 'metadata' ? health.metadata : health.storage})
                    </span>
                  </th>
                  <td class={check.up ? 'ok' : 'error'}>{check.up ? 'up' : 'down'}</td>
                  <td class="num">{check.ms} ms</td>
                  <td>{check.error ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <dl class="facts">
            <dt>Version</dt>
            <dd data-testid="version">Berth {health.version}</dd>
            <dt>Runtime</dt>
            <dd>Node.js {health.node}</dd>
            <dt>Running since</dt>
            <dd>{when(health.startedAt)}</dd>
          </dl>
        </section>
      )}
      {usage && (
        <section aria-labelledby="storage-use">
          <h2 id="storage-use">Storage</h2>
          <p data-testid="storage-total">
            {bytes(usage.storedBytes)} stored
            {usage.capacityBytes !== null && (
              <>
                {' '}
                of {bytes(usage.capacityBytes)}{' '}
                <progress
                  max={100}
                  value={percentOf(usage.storedBytes, usage.capacityBytes)}
                  aria-label={`${percentOf(usage.storedBytes, usage.capacityBytes)}% of the capacity used`}
                />{' '}
                {percentOf(usage.storedBytes, usage.capacityBytes)}% (the log warns from {usage.warnPercent}%)
              </>
            )}
            {usage.capacityBytes === null && <span class="muted"> (capacity unknown)</span>}
          </p>
          <table>
            <thead>
              <tr>
                <th scope="col">Project</th>
                <th scope="col" class="num">
                  Used
                </th>
                <th scope="col" class="num">
                  Quota
                </th>
              </tr>
            </thead>
            <tbody>
              {projects.map((project) => (
                <tr key={project.project}>
                  <th scope="row">
                    <Link href={`/projects/${project.project}`}>{project.project}</Link>
                  </th>
                  <td class="num">{bytes(project.usedBytes)}</td>
                  <td class="num">{project.limitBytes === null ? 'none' : bytes(project.limitBytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {projects.length === 0 && <p class="muted">No project stores anything yet.</p>}
        </section>
      )}
      {runs && (
        <section aria-labelledby="last-gc">
          <h2 id="last-gc">Garbage collection</h2>
          <p data-testid="last-gc">
            {lastRun ? (
              <>
                Last run {when(lastRun.startedAt)}
                {lastRun.dryRun ? ' (dry run)' : ''}: {lastRun.status}
                {lastRun.summary &&
                  `, ${bytes(lastRun.summary.bytes)} ${lastRun.summary.dryRun ? 'would be freed' : 'freed'}`}
                {lastRun.error && ` (${lastRun.error})`}.
              </>
            ) : (
              'Never run.'
            )}{' '}
            <Link href="/admin/gc">Garbage collection runs</Link>
          </p>
        </section>
      )}
    </Page>
  );
}
