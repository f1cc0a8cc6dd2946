import { Link } from 'wouter-preact';
import { call } from '../api/client';
import { JsonTree } from '../components/json-view';
import { CopyButton, ErrorText, Page } from '../components/ui';
import { bytes } from '../format';
import { useLoad } from '../use-load';
import { SignatureSection, VulnerabilitySection } from './artifact-assurance';

function Json({ title, value }: { title: string; value: unknown }) {
  return (
    <details open class="json-view">
      <summary>{title}</summary>
      <JsonTree value={value} />
      <CopyButton text={JSON.stringify(value, null, 2)} label={`Copy ${title.toLowerCase()} JSON`} />
    </details>
  );
}

export function ArtifactPage({ project, repo, digest }: { project: string; repo: string; digest: string }) {
  const { data, error } = useLoad(
    () =>
      call('get', '/api/v1/projects/{name}/repositories/{repo}/artifacts/{reference}/manifest', {
        path: { name: project, repo, reference: digest },
      }),
    [project, repo, digest],
  );
  const { data: access } = useLoad(
    () => call('get', '/api/v1/projects/{name}/access', { path: { name: project } }),
    [project],
  );
  const path = { name: project, repo, reference: digest };
  const history = (data?.config as { history?: { created_by?: string; empty_layer?: boolean }[] } | null)
    ?.history;
  // The API names the repository it read: in library, `busybox` may be the bare repository.
  const repository = data?.repository ?? `${project}/${repo}`;
  return (
    <Page title={`Artifact ${repository}`}>
      <p>
        <Link href={`/projects/${project}/repositories/${encodeURIComponent(repo)}`}>
          Repository {repository}
        </Link>
      </p>
      <p>
        <code>{digest}</code> <CopyButton text={digest} label="Copy digest" />
      </p>
      <ErrorText error={error} />
      {data && (
        <>
          <p>Media type: {data.mediaType}</p>
          <SignatureSection path={path} />
          <VulnerabilitySection path={path} canScan={access?.actions.includes('push') ?? false} />
          <h2>Layers</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Digest</th>
                <th scope="col">Media type</th>
                <th scope="col">Size</th>
              </tr>
            </thead>
            <tbody>
              {data.layers.map((layer) => (
                <tr key={layer.digest}>
                  <td>
                    <code>{layer.digest}</code>
                  </td>
                  <td>{layer.mediaType}</td>
                  <td class="num">{bytes(layer.size)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {history && (
            <>
              <h2>History</h2>
              <ol class="history">
                {history.map((step, index) => (
                  <li key={index}>
                    <code>{step.created_by ?? '(no command recorded)'}</code>
                    {step.empty_layer && <span class="muted"> (no layer)</span>}
                  </li>
                ))}
              </ol>
            </>
          )}
          <h2>Referrers</h2>
          {data.referrers.length === 0 ? (
            <p class="muted">No signatures, SBOMs or other artifacts refer to it.</p>
          ) : (
            <ul>
              {data.referrers.map((referrer) => (
                <li key={referrer.digest}>
                  {referrer.artifactType ?? referrer.mediaType}: <code>{referrer.digest}</code> (
                  {bytes(referrer.size)})
                </li>
              ))}
            </ul>
          )}
          <Json title="Manifest" value={data.manifest} />
          {data.config !== null && <Json title="Config" value={data.config} />}
        </>
      )}
    </Page>
  );
}
