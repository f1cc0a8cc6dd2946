import { useEffect, useState } from 'preact/hooks';
import { call, type Schemas } from '../api/client';
import { ErrorText, Page } from '../components/ui';
import { bytes, when } from '../format';
import { useLoad } from '../use-load';

type Run = Schemas['CollectionRun'];

function Progress({ run }: { run: Run }) {
  const progress = run.progress as { phase?: string; done?: number; total?: number } | null | undefined;
  if (run.status !== 'running' || !progress) return null;
  return (
    <span>
      {progress.phase}
      {progress.total ? ` ${progress.done ?? 0}/${progress.total}` : ''}
    </span>
  );
}

function Summary({ run }: { run: Run }) {
  const summary = run.summary;
  if (!summary) return <span class="muted">{run.error ?? '—'}</span>;
  const phases = Object.entries(summary.phases)
    .map(([phase, ms]) => `${phase} ${ms} ms`)
    .join(', ');
  return (
    <span title={phases}>
      {summary.manifests} manifests, {summary.blobs} blobs, {bytes(summary.bytes)}
      {summary.dryRun ? ' would be freed' : ' freed'} in {summary.durationMs} ms
    </span>
  );
}

export function GcPage() {
  const { data, error, reload } = useLoad(
    () => call('get', '/api/v1/gc/runs', { query: { limit: '20' } }),
    [],
  );
  const [failure, setFailure] = useState<unknown>(undefined);
  const running = data?.items.some((run) => run.status === 'running') ?? false;
  // Live progress: poll while a run is going on.
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(reload, 1000);
    return () => clearInterval(timer);
  }, [running, reload]);
  const start = async (dryRun: boolean) => {
    try {
      await call('post', '/api/v1/gc/runs', { body: { dryRun } });
      setFailure(undefined);
      reload();
    } catch (caught) {
      setFailure(caught);
    }
  };
  return (
    <Page
      title="Garbage collection"
      actions={
        <>
          <button type="button" disabled={running} onClick={() => start(true)}>
            Start a dry run
          </button>{' '}
          <button type="button" class="danger" disabled={running} onClick={() => start(false)}>
            Collect garbage
          </button>
        </>
      }
    >
      <ErrorText error={error ?? failure} />
      <table>
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Kind</th>
            <th scope="col">Status</th>
            <th scope="col">Started</th>
            <th scope="col">By</th>
            <th scope="col">Result</th>
          </tr>
        </thead>
        <tbody>
          {data?.items.map((run) => (
            <tr key={run.id} data-testid="gc-run">
              <td class="num">{run.id}</td>
              <td>{run.dryRun ? 'dry run' : 'collection'}</td>
              <td data-testid="gc-status">
                {run.status} <Progress run={run} />
              </td>
              <td>{when(run.startedAt)}</td>
              <td>{run.requestedBy ?? run.trigger}</td>
              <td>
                <Summary run={run} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.items.length === 0 && <p class="muted">No runs yet.</p>}
    </Page>
  );
}
