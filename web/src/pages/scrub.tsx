import { useState } from 'preact/hooks';
import { call, type Schemas } from '../api/client';
import { ErrorText, Page } from '../components/ui';
import { bytes, parseBytes, when } from '../format';
import { useAct } from '../use-act';
import { useLoad } from '../use-load';
import { usePolling } from '../use-polling';

type Run = Schemas['ScrubRun'];

/** The run's state as the scrubber records it (the API types it as open JSON). */
interface BlobFinding {
  digest: string;
  problem: 'corrupt' | 'missing';
  detail: string;
  quarantined: boolean;
  affected: { repository: string; tags: string[] }[];
}
export interface ScrubState {
  phase: 'blobs' | 'manifests' | 'done';
  blobs: { checked: number; total: number; bytes: number };
  manifests: { checked: number; total: number };
  corrupt: BlobFinding[];
  missing: BlobFinding[];
  badManifests: { repository: string; digest: string; problem: string }[];
  unlisted: number;
  durationMs?: number;
}

/** What a run found or is doing, in one line. */
export function scrubText(run: Pick<Run, 'status' | 'progress' | 'summary' | 'error'>): string {
  const state = (run.summary ?? run.progress) as ScrubState | null;
  if (!state?.blobs) return run.error ?? (run.status === 'running' ? 'starting' : '—');
  const checked = `${state.blobs.checked} of ${state.blobs.total} blobs (${bytes(state.blobs.bytes)}), ${state.manifests.checked} of ${state.manifests.total} manifests checked`;
  if (run.status === 'running') return `${state.phase}: ${checked}`;
  const found = state.corrupt.length + state.missing.length + state.badManifests.length + state.unlisted;
  const verdict =
    found === 0
      ? 'everything is intact'
      : `${state.corrupt.length} corrupt, ${state.missing.length} missing, ${state.badManifests.length} bad manifests${state.unlisted > 0 ? `, ${state.unlisted} more` : ''}`;
  return `${verdict}; ${checked}${run.error ? ` (${run.error})` : ''}`;
}

function Findings({ run }: { run: Run }) {
  const state = run.summary as ScrubState | null;
  if (!state) return null;
  const blobs = [...state.corrupt, ...state.missing];
  if (blobs.length + state.badManifests.length === 0) return null;
  return (
    <section aria-labelledby={`findings-${run.id}`}>
      <h3 id={`findings-${run.id}`}>What run {run.id} found</h3>
      <table aria-label={`Findings of run ${run.id}`}>
        <thead>
          <tr>
            <th scope="col">Problem</th>
            <th scope="col">Digest</th>
            <th scope="col">Detail</th>
            <th scope="col">Breaks</th>
          </tr>
        </thead>
        <tbody>
          {blobs.map((finding) => (
            <tr key={finding.digest} data-testid="finding">
              <td>
                {finding.problem}
                {finding.quarantined && ' (quarantined)'}
              </td>
              <td>
                <code>{finding.digest}</code>
              </td>
              <td>{finding.detail}</td>
              <td>
                {finding.affected.length === 0
                  ? 'no repository links it'
                  : finding.affected
                      .map((a) => `${a.repository}${a.tags.length > 0 ? ` (${a.tags.join(', ')})` : ''}`)
                      .join('; ')}
              </td>
            </tr>
          ))}
          {state.badManifests.map((m) => (
            <tr key={`${m.repository}@${m.digest}`} data-testid="finding">
              <td>bad manifest</td>
              <td>
                <code>{m.digest}</code>
              </td>
              <td>{m.problem}</td>
              <td>{m.repository}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Quarantine({ tick }: { tick: number }) {
  const { data, error, reload } = useLoad(() => call('get', '/api/v1/scrub/quarantine'), [tick]);
  const { failure, act } = useAct(reload);
  return (
    <section aria-labelledby="quarantine">
      <h2 id="quarantine">Quarantine</h2>
      <p class="muted">
        A quarantined blob is never served (a pull gets 404 naming the run). Release one once its bytes are
        repaired.
      </p>
      <ErrorText error={error ?? failure} />
      {data && data.items.length === 0 ? (
        <p class="muted">Nothing is quarantined.</p>
      ) : (
        <table aria-label="Quarantined blobs">
          <thead>
            <tr>
              <th scope="col">Digest</th>
              <th scope="col">Run</th>
              <th scope="col">Why</th>
              <th scope="col">Since</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {data?.items.map((blob) => (
              <tr key={blob.digest}>
                <td>
                  <code>{blob.digest}</code>
                </td>
                <td class="num">{blob.runId}</td>
                <td>{blob.reason}</td>
                <td>{when(blob.quarantinedAt)}</td>
                <td>
                  <button
                    type="button"
                    aria-label={`Release ${blob.digest}`}
                    onClick={() =>
                      act(() =>
                        call('delete', '/api/v1/scrub/quarantine/{digest}', {
                          path: { digest: blob.digest },
                        }),
                      )
                    }
                  >
                    Release
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** The integrity scrub (system administrators): start a run, watch it, read what it found, the quarantine. */
export function ScrubPage() {
  const { data, error, reload } = useLoad(
    () => call('get', '/api/v1/scrub/runs', { query: { limit: '20' } }),
    [],
  );
  const running = data?.items.some((run) => run.status === 'running') ?? false;
  usePolling(running, reload);
  const { failure, setFailure, act } = useAct(reload);
  const [open, setOpen] = useState<number | undefined>(undefined);
  const shown = data?.items.find((run) => run.id === open);
  return (
    <Page title="Integrity scrub">
      <p class="muted">
        Re-hashes every stored blob and checks every manifest; reports what is corrupt or missing with the
        repositories and tags it breaks.
      </p>
      <form
        class="inline"
        aria-label="Start a scrub"
        onSubmit={(event) => {
          event.preventDefault();
          const form = new FormData(event.currentTarget);
          const rate = String(form.get('rate') ?? '')
            .trim()
            .replace(/\/s$/, '');
          const rateBytesPerSecond = rate === '' ? undefined : parseBytes(rate);
          if (rate !== '' && rateBytesPerSecond === undefined) {
            setFailure(new Error(`Rate: bytes per second such as 50MB or 0 (no limit), not "${rate}"`));
            return;
          }
          void act(() =>
            call('post', '/api/v1/scrub/runs', {
              body: {
                quarantine: form.get('quarantine') === 'on',
                ...(rateBytesPerSecond !== undefined && { rateBytesPerSecond }),
              },
            }),
          );
        }}
      >
        <label>
          <input type="checkbox" name="quarantine" /> quarantine corrupt blobs
        </label>
        <label>
          Rate per second <input name="rate" size={8} placeholder="server default" />
        </label>
        <button type="submit" disabled={running}>
          Start a scrub
        </button>
      </form>
      <ErrorText error={error ?? failure} />
      <table aria-label="Scrub runs">
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Status</th>
            <th scope="col">Started</th>
            <th scope="col">By</th>
            <th scope="col">Result</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.items.map((run) => (
            <tr key={run.id} data-testid="scrub-run">
              <td class="num">{run.id}</td>
              <td>{run.status}</td>
              <td>{when(run.startedAt)}</td>
              <td>{run.requestedBy ?? run.trigger}</td>
              <td data-testid="scrub-result">{scrubText(run)}</td>
              <td>
                {run.summary !== null && run.summary !== undefined && (
                  <button
                    type="button"
                    aria-expanded={open === run.id}
                    onClick={() => setOpen(open === run.id ? undefined : run.id)}
                  >
                    Findings
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.items.length === 0 && <p class="muted">No runs yet.</p>}
      {shown && <Findings run={shown} />}
      <Quarantine tick={data?.items[0]?.status === 'running' ? 0 : (data?.items[0]?.id ?? 0)} />
    </Page>
  );
}
