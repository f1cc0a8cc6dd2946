import { Link } from 'wouter-preact';
import { call, type Schemas } from '../api/client';
import { Pager, useCursors } from '../components/pager';
import { CopyButton, ErrorText, Page } from '../components/ui';
import { bytes, shortDigest, when } from '../format';
import { useInView } from '../use-in-view';
import { useLoad } from '../use-load';

type ArtifactPath = { name: string; repo: string; reference: string };

/**
 * Signature status and vulnerability summary of one artifact; "not available" when the API has none. Asked for
 * when the row comes near the viewport: a page of 50 rows costs the server the rows one sees, not 100 requests.
 */
function Assurance({ path }: { path: ArtifactPath }) {
  const [ref, seen] = useInView<HTMLTableCellElement>();
  if (!seen) {
    return (
      <>
        <td ref={ref}>…</td>
        <td>…</td>
      </>
    );
  }
  return <AssuranceCells path={path} />;
}

function AssuranceCells({ path }: { path: ArtifactPath }) {
  const { data } = useLoad(
    () =>
      Promise.all([
        call('get', '/api/v1/projects/{name}/repositories/{repo}/artifacts/{reference}', { path }).catch(
          () => undefined,
        ),
        call('get', '/api/v1/projects/{name}/repositories/{repo}/artifacts/{reference}/vulnerabilities', {
          path,
        }).catch(() => undefined),
      ]),
    [path.name, path.repo, path.reference],
  );
  const [signature, report] = data ?? [];
  return (
    <>
      <td>{data ? (signature?.signature.status ?? 'not available') : '…'}</td>
      <td>{data ? <VulnerabilitySummary report={report} /> : '…'}</td>
    </>
  );
}

function VulnerabilitySummary({ report }: { report: Schemas['VulnerabilityReport'] | undefined }) {
  if (!report) return <span class="muted">not available</span>;
  if (report.status !== 'done' || !report.summary) return <span class="muted">{report.status}</span>;
  const { critical, high, medium, low, total } = report.summary;
  if (total === 0) return <span>none found</span>;
  return (
    <span>
      {critical} critical, {high} high, {medium} medium, {low} low
    </span>
  );
}

/** Tags shown per artifact; the rest are counted (an artifact may carry 100,000 tags). */
export const TAGS_SHOWN = 10;

/** `1.0, 1.0.3, latest`, or the first TAGS_SHOWN and `and 99,990 more`. */
export function tagsText(tags: readonly string[]): string {
  const shown = tags.slice(0, TAGS_SHOWN).join(', ');
  const rest = tags.length - TAGS_SHOWN;
  return rest > 0 ? `${shown} and ${rest.toLocaleString('en')} more` : shown;
}

export function ArtifactsPage({ project, repo }: { project: string; repo: string }) {
  const { stack, cursor, setStack } = useCursors([project, repo]);
  const { data, error } = useLoad(
    () =>
      call('get', '/api/v1/projects/{name}/repositories/{repo}/artifacts', {
        path: { name: project, repo },
        query: { limit: '50', ...(cursor && { cursor }) },
      }),
    [project, repo, cursor],
  );
  // The API says which repository it read: in library, `busybox` may be the bare repository.
  const repository = data?.repository ?? `${project}/${repo}`;
  const host = location.host;
  return (
    <Page title={`Repository ${repository}`}>
      <p>
        <Link href={`/projects/${project}`}>Project {project}</Link>
      </p>
      <ErrorText error={error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Tags</th>
            <th scope="col">Digest</th>
            <th scope="col">Size</th>
            <th scope="col">Platforms</th>
            <th scope="col">Pushed</th>
            <th scope="col">Last pulled</th>
            <th scope="col">Signature</th>
            <th scope="col">Vulnerabilities</th>
            <th scope="col">Pull</th>
          </tr>
        </thead>
        <tbody>
          {data?.items.map((artifact) => {
            const reference = artifact.tags[0] ? `:${artifact.tags[0]}` : `@${artifact.digest}`;
            const pull = `${host}/${repository}${reference}`;
            return (
              <tr key={artifact.digest}>
                <td data-testid="tags">
                  {artifact.tags.length > 0 ? tagsText(artifact.tags) : <span class="muted">untagged</span>}
                </td>
                <td>
                  <Link
                    href={`/projects/${project}/repositories/${encodeURIComponent(repo)}/artifacts/${artifact.digest}`}
                    title={artifact.digest}
                  >
                    <code data-testid="digest">{shortDigest(artifact.digest)}</code>
                  </Link>{' '}
                  <CopyButton text={artifact.digest} label="Copy digest" />
                </td>
                <td class="num" data-testid="size">
                  {bytes(artifact.size)}
                </td>
                <td>{artifact.platforms.length > 0 ? artifact.platforms.join(', ') : '—'}</td>
                <td>{when(artifact.pushedAt)}</td>
                <td>{when(artifact.lastPulledAt)}</td>
                <Assurance path={{ name: project, repo, reference: artifact.digest }} />
                <td>
                  <CopyButton text={`docker pull ${pull}`} label="docker pull" />{' '}
                  <CopyButton text={`podman pull ${pull}`} label="podman pull" />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {data && data.items.length === 0 && <p class="muted">No artifacts.</p>}
      <Pager stack={stack} next={data?.next} onChange={setStack} label="Artifact pages" />
    </Page>
  );
}
