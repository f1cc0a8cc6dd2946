import { call, type Schemas } from '../api/client';
import { ErrorText } from '../components/ui';
import { shortDigest } from '../format';
import { useAct } from '../use-act';
import { useLoad } from '../use-load';
import { usePolling } from '../use-polling';

type ArtifactPath = { name: string; repo: string; reference: string };
type Report = Schemas['VulnerabilityReport'];
type Vulnerability = NonNullable<Report['vulnerabilities']>[number];

const SEVERITY_ORDER: Vulnerability['severity'][] = ['Critical', 'High', 'Medium', 'Low', 'Unknown'];

/** Worst first, then by score (highest first), then by id: the order `berth artifact vulns` prints. */
export function bySeverity(vulnerabilities: readonly Vulnerability[]): Vulnerability[] {
  return [...vulnerabilities].sort(
    (a, b) =>
      SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity) ||
      (b.score ?? -1) - (a.score ?? -1) ||
      a.id.localeCompare(b.id),
  );
}

/** A report's state in words, as a line above its table. */
export function reportText(report: Report): string {
  switch (report.status) {
    case 'not-scanned':
      return 'Not scanned yet.';
    case 'queued':
      return 'Queued for a scan…';
    case 'running':
      return 'Scanning…';
    case 'failed':
      return `The scan failed: ${report.error ?? 'no reason given'}.`;
    case 'not-applicable':
      return report.manifests
        ? 'An index: each image it holds is scanned on its own.'
        : 'Not an image: nothing to scan.';
    default: {
      const s = report.summary;
      if (!s) return 'Scanned.';
      const found =
        s.total === 0
          ? 'No known vulnerabilities'
          : `${s.total} ${s.total === 1 ? 'vulnerability' : 'vulnerabilities'}: ${s.critical} critical, ${s.high} high, ${s.medium} medium, ${s.low} low, ${s.unknown} unknown (${s.fixable} fixable)`;
      const data = report.database
        ? `; database ${report.database.version} of ${report.database.updated ?? 'unknown date'}${report.database.stale ? ' (stale)' : ''}`
        : '';
      return `${found} in ${report.packages ?? 0} packages${data}.`;
    }
  }
}

function VulnerabilityTable({ vulnerabilities }: { vulnerabilities: readonly Vulnerability[] }) {
  if (vulnerabilities.length === 0) return null;
  return (
    <table aria-label="Vulnerabilities">
      <thead>
        <tr>
          <th scope="col">Severity</th>
          <th scope="col">Vulnerability</th>
          <th scope="col">Package</th>
          <th scope="col">Installed</th>
          <th scope="col">Fixed in</th>
          <th scope="col">Score</th>
        </tr>
      </thead>
      <tbody>
        {bySeverity(vulnerabilities).map((v) => (
          <tr key={`${v.id} ${v.package.purl}`} data-testid="vulnerability">
            <td>{v.severity}</td>
            <td>
              {v.links[0] ? (
                <a href={v.links[0]} rel="noreferrer noopener" target="_blank">
                  {v.id}
                </a>
              ) : (
                v.id
              )}
              {v.summary && <div class="muted small">{v.summary}</div>}
            </td>
            <td>{v.package.name}</td>
            <td>
              <code>{v.package.version}</code>
            </td>
            <td>{v.fixedVersion ? <code>{v.fixedVersion}</code> : '—'}</td>
            <td class="num">{v.score ?? '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function sbomHref(path: ArtifactPath, format: 'spdx' | 'cyclonedx'): string {
  const at = (text: string) => encodeURIComponent(text);
  return `/api/v1/projects/${at(path.name)}/repositories/${at(path.repo)}/artifacts/${at(path.reference)}/sbom?format=${format}`;
}

/**
 * The artifact's scan report: what was found, the pull policy's answer, SBOM downloads, and "Scan now" for who
 * may push (`canScan`).
 */
export function VulnerabilitySection({ path, canScan }: { path: ArtifactPath; canScan: boolean }) {
  const { data, error, reload } = useLoad(
    () =>
      call('get', '/api/v1/projects/{name}/repositories/{repo}/artifacts/{reference}/vulnerabilities', {
        path,
      }),
    [path.name, path.repo, path.reference],
  );
  const pending = (report: Report | undefined) =>
    report !== undefined &&
    (report.status === 'queued' ||
      report.status === 'running' ||
      (report.manifests?.some((m) => m.status === 'queued' || m.status === 'running') ?? false));
  usePolling(pending(data), reload);
  const { failure, act } = useAct(reload);
  const sboms = new Set(data?.sboms?.map((s) => s.mediaType) ?? []);
  return (
    <section aria-labelledby="vulnerabilities">
      <h2 id="vulnerabilities">Vulnerabilities</h2>
      <ErrorText error={error ?? failure} />
      {data && (
        <>
          <p data-testid="scan-status" role="status">
            {reportText(data)}
            {data.policy.decision === 'refuse' && (
              <strong class="error"> Pulls are refused: {data.policy.message}</strong>
            )}
          </p>
          <div class="row-actions">
            {canScan && (data.status !== 'not-applicable' || data.manifests !== undefined) ? (
              <button
                type="button"
                disabled={pending(data)}
                onClick={() =>
                  act(() =>
                    call('post', '/api/v1/projects/{name}/repositories/{repo}/artifacts/{reference}/scan', {
                      path,
                    }),
                  )
                }
              >
                Scan now
              </button>
            ) : null}
            {sboms.has('application/spdx+json') && (
              <a class="button" href={sbomHref(path, 'spdx')} download>
                SBOM (SPDX 2.3)
              </a>
            )}
            {sboms.has('application/vnd.cyclonedx+json') && (
              <a class="button" href={sbomHref(path, 'cyclonedx')} download>
                SBOM (CycloneDX 1.5)
              </a>
            )}
          </div>
          {data.manifests && (
            <ul>
              {data.manifests.map((child) => (
                <li key={child.digest}>
                  <code>{shortDigest(child.digest)}</code>: {reportText(child)}
                </li>
              ))}
            </ul>
          )}
          <VulnerabilityTable
            vulnerabilities={[
              ...(data.vulnerabilities ?? []),
              ...(data.manifests?.flatMap((m) => m.vulnerabilities ?? []) ?? []),
            ]}
          />
        </>
      )}
    </section>
  );
}

/** Who signed the artifact, whether a trusted key did, and what the project's signature policy makes of it. */
export function SignatureSection({ path }: { path: ArtifactPath }) {
  const { data, error } = useLoad(
    () => call('get', '/api/v1/projects/{name}/repositories/{repo}/artifacts/{reference}', { path }),
    [path.name, path.repo, path.reference],
  );
  const signature = data?.signature;
  return (
    <section aria-labelledby="signatures">
      <h2 id="signatures">Signatures</h2>
      <ErrorText error={error} />
      {data && signature && (
        <>
          <p data-testid="signature-status">
            {signature.status === 'verified'
              ? `Verified: signed by ${signature.verifiedBy.join(', ')}.`
              : signature.status === 'unsigned'
                ? 'Not signed.'
                : signature.status === 'untrusted'
                  ? 'Signed, but by no key or identity the project trusts.'
                  : 'A signature is invalid.'}{' '}
            {data.policy.mode === 'off' || !data.policy.covers
              ? 'The project does not require signatures here.'
              : `The project's policy (${data.policy.mode}): ${data.policy.pullable ? 'pulls are served' : 'pulls are refused'}${data.policy.reason ? ` — ${data.policy.reason}` : ''}.`}
          </p>
          {signature.signatures.length > 0 && (
            <table aria-label="Signatures">
              <thead>
                <tr>
                  <th scope="col">Format</th>
                  <th scope="col">Signature</th>
                  <th scope="col">Status</th>
                  <th scope="col">Signer</th>
                </tr>
              </thead>
              <tbody>
                {signature.signatures.map((s) => (
                  <tr key={s.signatureDigest}>
                    <td>{s.format}</td>
                    <td>
                      <code title={s.signatureDigest}>{shortDigest(s.signatureDigest)}</code>
                    </td>
                    <td>
                      {s.status}
                      {s.reason && <span class="muted"> ({s.reason})</span>}
                    </td>
                    <td>{s.signer ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
