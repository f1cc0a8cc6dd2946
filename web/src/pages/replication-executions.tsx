import { Link, useLocation, useSearch } from 'wouter-preact';
import { call, type Schemas } from '../api/client';
import { ErrorText, Page } from '../components/ui';
import { bytes, when } from '../format';
import { useAct } from '../use-act';
import { useLoad } from '../use-load';
import { usePolling } from '../use-polling';
import { triggerText } from './replication';

type Execution = Schemas['ReplicationExecution'];

/** An execution's progress in words: `3 of 10 done: 2 copied, 1 failed; 4.0 MiB`. */
export function progressText(progress: Schemas['ReplicationProgress'] | null): string {
  if (!progress) return 'starting';
  const parts = [
    `${progress.succeeded} copied`,
    ...(progress.failed > 0 ? [`${progress.failed} failed`] : []),
    ...(progress.immutable > 0 ? [`${progress.immutable} refused (immutable at the target)`] : []),
    ...(progress.skipped > 0 ? [`${progress.skipped} already there`] : []),
  ];
  return `${progress.done} of ${progress.total} done: ${parts.join(', ')}; ${bytes(progress.bytes)}`;
}

function Tasks({ policy, execution }: { policy: number; execution: number }) {
  const path = { id: String(policy), execution: String(execution) };
  const { data, error, reload } = useLoad(
    () => call('get', '/api/v1/replication/policies/{id}/executions/{execution}', { path }),
    [policy, execution],
  );
  usePolling(data?.status === 'running', reload);
  const [, navigate] = useLocation();
  const { failure, act } = useAct(() => {});
  const unfinished = data?.tasks?.some((t) => t.status === 'failed' || t.status === 'pending') ?? false;
  return (
    <section aria-labelledby="tasks">
      <h2 id="tasks">Execution {execution}</h2>
      <ErrorText error={error ?? failure} />
      {data && (
        <>
          <p data-testid="execution-progress" role="status">
            {data.status}: {progressText(data.progress)}
            {data.error && <span class="error"> ({data.error})</span>}
          </p>
          {data.status !== 'running' && unfinished && (
            <button
              type="button"
              onClick={() =>
                act(async () => {
                  const again = await call(
                    'post',
                    '/api/v1/replication/policies/{id}/executions/{execution}/retry',
                    { path },
                  );
                  navigate(`/admin/replication/${policy}?execution=${again.id}`);
                })
              }
            >
              Retry what did not finish
            </button>
          )}
          <table aria-label={`Tasks of execution ${execution}`}>
            <thead>
              <tr>
                <th scope="col">Operation</th>
                <th scope="col">Source</th>
                <th scope="col">Target</th>
                <th scope="col">Status</th>
                <th scope="col">Size</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {data.tasks?.map((task) => (
                <tr key={task.id} data-testid="task">
                  <td>{task.operation}</td>
                  <td>
                    <code>
                      {task.sourceRepository}
                      {task.sourceReference.startsWith('sha256:') ? '@' : ':'}
                      {task.sourceReference}
                    </code>
                  </td>
                  <td>
                    <code>{task.targetRepository}</code>
                  </td>
                  <td>{task.status}</td>
                  <td class="num">{bytes(task.bytes)}</td>
                  <td>{task.error ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {data.tasks?.length === 0 && <p class="muted">Nothing to copy: the policy selected nothing new.</p>}
        </>
      )}
    </section>
  );
}

function executionRow(policy: number, run: Execution, selected: boolean) {
  return (
    <tr key={run.id} data-testid="execution" aria-current={selected ? 'true' : undefined}>
      <td class="num">
        <Link href={`/admin/replication/${policy}?execution=${run.id}`}>{run.id}</Link>
      </td>
      <td>{run.trigger}</td>
      <td>{run.status}</td>
      <td>{progressText(run.progress)}</td>
      <td>{when(run.startedAt)}</td>
      <td>{run.finishedAt === null ? '—' : when(run.finishedAt)}</td>
      <td>{run.requestedBy ?? ''}</td>
    </tr>
  );
}

/** One replication policy: its executions (live while one runs) and an execution's tasks. */
export function ReplicationPolicyPage({ id }: { id: string }) {
  const policy = useLoad(() => call('get', '/api/v1/replication/policies/{id}', { path: { id } }), [id]);
  const runs = useLoad(
    () =>
      call('get', '/api/v1/replication/policies/{id}/executions', { path: { id }, query: { limit: '20' } }),
    [id],
  );
  usePolling(runs.data?.items.some((run) => run.status === 'running') ?? false, runs.reload);
  const selected = Number(new URLSearchParams(useSearch()).get('execution') ?? runs.data?.items[0]?.id ?? 0);
  const { failure, act } = useAct(runs.reload);
  const [, navigate] = useLocation();
  const p = policy.data;
  return (
    <Page
      title={`Replication policy ${p?.name ?? id}`}
      actions={
        <button
          type="button"
          onClick={() =>
            act(async () => {
              const run = await call('post', '/api/v1/replication/policies/{id}/executions', {
                path: { id },
              });
              navigate(`/admin/replication/${id}?execution=${run.id}`);
            })
          }
        >
          Run now
        </button>
      }
    >
      <p>
        <Link href="/admin/replication">All replication</Link>
      </p>
      <ErrorText error={policy.error ?? runs.error ?? failure} />
      {p && (
        <p>
          {p.direction === 'push' ? 'Pushes to' : 'Pulls from'} {p.registry}: <code>{p.repositories}</code>,
          tags <code>{p.tags}</code>; {triggerText(p)}; {p.enabled ? 'enabled' : 'disabled'}.
        </p>
      )}
      <h2>Executions</h2>
      <table aria-label="Executions">
        <thead>
          <tr>
            <th scope="col">Execution</th>
            <th scope="col">Trigger</th>
            <th scope="col">Status</th>
            <th scope="col">Progress</th>
            <th scope="col">Started</th>
            <th scope="col">Ended</th>
            <th scope="col">By</th>
          </tr>
        </thead>
        <tbody>{runs.data?.items.map((run) => executionRow(Number(id), run, run.id === selected))}</tbody>
      </table>
      {runs.data && runs.data.items.length === 0 && <p class="muted">Not run yet.</p>}
      {selected > 0 && <Tasks key={selected} policy={Number(id)} execution={selected} />}
    </Page>
  );
}
