import { useEffect, useState } from 'preact/hooks';
import { call, type Schemas } from '../api/client';
import { ErrorText } from '../components/ui';
import { shortDigest, when } from '../format';
import type { Right } from '../permissions';
import { ruleText, runState, summaryGroups, summaryHeadline } from '../retention-view';
import { useLoad } from '../use-load';

type Rule = Schemas['RetentionRule'];
type Run = Schemas['RetentionRun'];

/** What a retention run did, or for a dry run would do: the headline, then what goes and what stays. */
export function RetentionSummaryView({ summary }: { summary: Schemas['RetentionSummary'] }) {
  const groups = summaryGroups(summary);
  return (
    <div class="retention-summary" data-testid="retention-summary">
      <p>{summaryHeadline(summary)}</p>
      {groups.length === 0 && <p class="muted">Nothing to delete.</p>}
      {groups.map((group) => (
        <div key={group.id}>
          <h4>
            {group.title} ({group.total.toLocaleString('en')})
          </h4>
          <table data-testid={`retention-${group.id}`}>
            <thead>
              <tr>
                <th scope="col">Repository</th>
                <th scope="col">Tags</th>
                <th scope="col">Digest</th>
                <th scope="col">{group.id === 'deleted' ? 'Referrers with it' : 'Why'}</th>
              </tr>
            </thead>
            <tbody>
              {group.items.map((item) => (
                <tr key={`${item.repository}@${item.digest}`}>
                  <td>{item.repository}</td>
                  <td>{item.tags.length > 0 ? item.tags.join(', ') : 'untagged'}</td>
                  <td title={item.digest}>
                    <code>{shortDigest(item.digest)}</code>
                  </td>
                  <td>{group.id === 'deleted' ? (item.referrers?.length ?? 0) : (item.reason ?? '')}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {group.unlisted > 0 && (
            <p class="muted">and {group.unlisted.toLocaleString('en')} more not listed</p>
          )}
        </div>
      ))}
    </div>
  );
}

/** Follows a run until it is done (polling once a second), then reports it. */
function useRun(name: string, started: Run | undefined) {
  const [run, setRun] = useState<Run | undefined>(started);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    setRun(started);
    setError(undefined);
    if (started?.status !== 'running') return;
    let live = true;
    const timer = setInterval(async () => {
      try {
        const now = await call('get', '/api/v1/projects/{name}/retention/runs/{id}', {
          path: { name, id: String(started.id) },
        });
        if (!live) return;
        setRun(now);
        if (now.status !== 'running') clearInterval(timer);
      } catch (failure) {
        if (live) setError(failure);
        clearInterval(timer);
      }
    }, 1000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [name, started]);
  return { run, error };
}

const KEEP_LABELS: Record<Rule['keep'], string> = {
  latestPushed: 'the most recently pushed (count per repository)',
  pulledWithin: 'those pulled within (days)',
  always: 'all of them',
};

function AddRuleForm({ name, onAdd }: { name: string; onAdd(rule: Rule): Promise<void> }) {
  const [keep, setKeep] = useState<Rule['keep']>('latestPushed');
  return (
    <form
      class="inline"
      aria-label="New retention rule"
      onSubmit={async (event) => {
        event.preventDefault();
        const target = event.currentTarget;
        const form = new FormData(target);
        const selection = {
          repositories: String(form.get('repositories') ?? '').trim() || '**',
          tags: {
            pattern: String(form.get('tagPattern') ?? '').trim() || '**',
            match: form.get('match') === 'excluding' ? ('excluding' as const) : ('matching' as const),
          },
          untagged: form.get('untagged') === 'on',
        };
        const amount = Number(form.get('amount'));
        const rule: Rule =
          keep === 'latestPushed'
            ? { keep, count: amount, ...selection }
            : keep === 'pulledWithin'
              ? { keep, days: amount, ...selection }
              : { keep, ...selection };
        await onAdd(rule);
        target.reset();
      }}
    >
      <label>
        Keep
        <select name="keep" value={keep} onChange={(e) => setKeep(e.currentTarget.value as Rule['keep'])}>
          {(Object.keys(KEEP_LABELS) as Rule['keep'][]).map((id) => (
            <option key={id} value={id}>
              {KEEP_LABELS[id]}
            </option>
          ))}
        </select>
      </label>
      {keep !== 'always' && (
        <label>
          {keep === 'latestPushed' ? 'Count' : 'Days'}{' '}
          <input name="amount" type="number" min={1} required defaultValue="10" size={5} />
        </label>
      )}
      <label>
        Of repositories <input name="repositories" defaultValue={`${name}/**`} required />
      </label>
      <label>
        Tags
        <select name="match">
          <option value="matching">matching</option>
          <option value="excluding">not matching</option>
        </select>
        <input name="tagPattern" defaultValue="**" aria-label="Tag pattern" size={8} />
      </label>
      <label>
        <input type="checkbox" name="untagged" /> and untagged
      </label>
      <button type="submit">Add retention rule</button>
    </form>
  );
}

/**
 * A project's retention policy: its rules (each keeps some artifacts; the rest of the repositories they cover
 * goes), the schedule, and runs; a dry run lists what would go without deleting anything.
 */
export function RetentionSection({ name, right }: { name: string; right: Right }) {
  const {
    data: policy,
    error,
    reload,
  } = useLoad(() => call('get', '/api/v1/projects/{name}/retention', { path: { name } }), [name]);
  const { data: runs } = useLoad(
    () => call('get', '/api/v1/projects/{name}/retention/runs', { path: { name }, query: { limit: '1' } }),
    [name],
  );
  const [started, setStarted] = useState<Run | undefined>(undefined);
  const { run, error: runError } = useRun(name, started ?? runs?.items[0]);
  const [failure, setFailure] = useState<unknown>(undefined);
  const save = async (rules: Rule[], schedule: string | null) => {
    try {
      await call('put', '/api/v1/projects/{name}/retention', { path: { name }, body: { rules, schedule } });
      setFailure(undefined);
      reload();
    } catch (caught) {
      setFailure(caught);
    }
  };
  const start = async (dryRun: boolean) => {
    if (!dryRun && !confirm(`Delete now what the retention rules of ${name} do not keep?`)) return;
    try {
      setStarted(
        await call('post', '/api/v1/projects/{name}/retention/runs', { path: { name }, body: { dryRun } }),
      );
      setFailure(undefined);
    } catch (caught) {
      setFailure(caught);
    }
  };
  const rules = policy?.rules ?? [];
  const schedule = policy?.schedule ?? null;
  return (
    <section aria-labelledby="retention">
      <h3 id="retention">Retention</h3>
      <p class="muted">
        Each rule keeps some artifacts of the repositories it covers; the rest of those repositories is
        deleted by each run, with its signatures and SBOMs. Repositories no rule covers are left alone.
      </p>
      <ErrorText error={error ?? failure ?? runError} />
      <table data-testid="retention-rules">
        <thead>
          <tr>
            <th scope="col">Rule</th>
            {right.write && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {rules.map((rule, index) => (
            <tr key={`${index}:${ruleText(rule)}`}>
              <td>{ruleText(rule)}</td>
              {right.write && (
                <td>
                  <button
                    type="button"
                    class="danger"
                    aria-label={`Delete retention rule: ${ruleText(rule)}`}
                    onClick={() =>
                      save(
                        rules.filter((_, at) => at !== index),
                        schedule,
                      )
                    }
                  >
                    Delete
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {policy && rules.length === 0 && <p class="muted">No rules: retention deletes nothing.</p>}
      <p>
        Schedule: {schedule ? <code>{schedule}</code> : 'manual runs only'}
        {policy?.nextRunAt ? `; next run ${when(policy.nextRunAt)}` : ''}
      </p>
      {right.write && policy && (
        <>
          <AddRuleForm name={name} onAdd={(rule) => save([...rules, rule], schedule)} />
          <form
            class="inline"
            aria-label="Retention schedule"
            onSubmit={(event) => {
              event.preventDefault();
              const text = String(new FormData(event.currentTarget).get('schedule') ?? '').trim();
              void save(rules, text === '' ? null : text);
            }}
          >
            <label>
              Schedule (cron, UTC; empty: manual)
              <input name="schedule" defaultValue={schedule ?? ''} placeholder="0 3 * * *" size={14} />
            </label>
            <button type="submit">Save schedule</button>
          </form>
          <div class="actions">
            <button type="button" disabled={run?.status === 'running'} onClick={() => start(true)}>
              Dry run
            </button>{' '}
            <button
              type="button"
              class="danger"
              disabled={run?.status === 'running' || rules.length === 0}
              onClick={() => start(false)}
            >
              Run retention now
            </button>
          </div>
        </>
      )}
      {run && (
        <div class="run" aria-live="polite">
          <p data-testid="retention-run-status">
            {run.dryRun ? 'Dry run' : 'Run'} {run.id} started {when(run.startedAt)}
            {run.requestedBy ? ` by ${run.requestedBy}` : ''}: {runState(run)}
          </p>
          {run.status !== 'running' && run.summary && <RetentionSummaryView summary={run.summary} />}
        </div>
      )}
    </section>
  );
}
