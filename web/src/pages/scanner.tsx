import { useState } from 'preact/hooks';
import { call, type Schemas, upload } from '../api/client';
import { ErrorText, Page } from '../components/ui';
import { when } from '../format';
import { useAct } from '../use-act';
import { useLoad } from '../use-load';
import { usePolling } from '../use-polling';

type Import = Schemas['VulnerabilityDatabaseImport'];

/**
 * What to send for the files chosen, as `berth scanner db import` reads them: one OSV `all.zip` as it is, or
 * OSV records as NDJSON (an `.ndjson` file as it is; `.json` records one per line).
 */
export async function databaseUpload(files: File[]): Promise<{ body: Blob; type: string }> {
  const [first] = files;
  if (!first) throw new Error('Choose a file: an OSV all.zip, NDJSON, or OSV *.json records');
  if (files.length === 1 && /\.zip$/i.test(first.name)) return { body: first, type: 'application/zip' };
  if (files.some((file) => /\.zip$/i.test(file.name))) throw new Error('Import one zip at a time');
  const lines: string[] = [];
  for (const file of files) {
    const text = await file.text();
    if (/\.json$/i.test(file.name)) lines.push(JSON.stringify(JSON.parse(text)));
    else lines.push(text.trimEnd());
  }
  return { body: new Blob([`${lines.join('\n')}\n`]), type: 'application/x-ndjson' };
}

function Database({ admin }: { admin: boolean }) {
  const { data, error, reload } = useLoad(() => call('get', '/api/v1/scanner/database'), []);
  const [result, setResult] = useState<Import | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const { failure, act } = useAct(reload);
  return (
    <section aria-labelledby="database">
      <h2 id="database">Vulnerability database</h2>
      <ErrorText error={error ?? failure} />
      {data &&
        (data.imported ? (
          <dl class="facts" data-testid="database">
            <dt>Version</dt>
            <dd>{data.version}</dd>
            <dt>Data as of</dt>
            <dd>
              {data.updated ?? 'unknown'}
              {data.stale && <span class="error"> (stale: import newer data)</span>}
            </dd>
            <dt>Records</dt>
            <dd>{data.records?.toLocaleString('en')}</dd>
            <dt>Imported</dt>
            <dd>{data.importedAt}</dd>
          </dl>
        ) : (
          <p data-testid="database">
            No database imported yet: scans list packages but find no vulnerabilities.
          </p>
        ))}
      {admin && (
        <form
          class="inline"
          aria-label="Import a vulnerability database"
          onSubmit={(event) => {
            event.preventDefault();
            const input = event.currentTarget.elements.namedItem('records') as HTMLInputElement;
            setBusy(true);
            setResult(undefined);
            void act(async () => {
              try {
                const { body, type } = await databaseUpload([...(input.files ?? [])]);
                setResult(await upload<Import>('put', '/api/v1/scanner/database', body, type));
              } finally {
                setBusy(false);
              }
            });
          }}
        >
          <label>
            OSV records{' '}
            <input type="file" name="records" multiple accept=".zip,.ndjson,.jsonl,.json" required />
          </label>
          <button type="submit" disabled={busy}>
            {busy ? 'Importing…' : 'Import'}
          </button>
        </form>
      )}
      {result && (
        <p role="status" data-testid="import-result">
          Imported {result.imported} records{result.rejected > 0 ? `, rejected ${result.rejected}` : ''}
          {result.rescan !== null ? `; rescan ${result.rescan} started` : ''}.
          {result.problems.length > 0 && <span class="error"> {result.problems.slice(0, 5).join('; ')}</span>}
        </p>
      )}
    </section>
  );
}

function Rescans() {
  const { data, error, reload } = useLoad(
    () => call('get', '/api/v1/scanner/rescans', { query: { limit: '10' } }),
    [],
  );
  const running = data?.items.some((run) => run.status === 'running') ?? false;
  usePolling(running, reload);
  const { failure, act } = useAct(reload);
  return (
    <section aria-labelledby="rescans">
      <h2 id="rescans">Rescans</h2>
      <p class="muted">
        Matches every stored inventory against the current database again (no layer is read again); an import
        starts one by itself.
      </p>
      <button
        type="button"
        disabled={running}
        onClick={() => act(() => call('post', '/api/v1/scanner/rescans'))}
      >
        Rescan everything
      </button>
      <ErrorText error={error ?? failure} />
      <table aria-label="Rescans">
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Status</th>
            <th scope="col">Started</th>
            <th scope="col">By</th>
            <th scope="col">Result</th>
          </tr>
        </thead>
        <tbody>
          {data?.items.map((run) => (
            <tr key={run.id} data-testid="rescan">
              <td class="num">{run.id}</td>
              <td>{run.status}</td>
              <td>{when(run.startedAt)}</td>
              <td>{run.requestedBy ?? run.trigger}</td>
              <td>
                {run.summary
                  ? `${run.summary.rematched} images matched again, ${run.summary.changed} reports changed (database ${run.summary.dbVersion})`
                  : (run.error ?? '—')}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.items.length === 0 && <p class="muted">No rescans yet.</p>}
    </section>
  );
}

/** The scanner's vulnerability database and rescans (system administrators). */
export function ScannerPage() {
  return (
    <Page title="Vulnerability scanner">
      <Database admin />
      <Rescans />
    </Page>
  );
}
