// The scanner adapter client end to end against a stub adapter on a real HTTP server: registration checks on
// /metadata, the scan request it sends, polling that honours 302 + Refresh-After, and every way it can fail
// (adapter errors, unknown scan, adapter down, slow adapter, total wait, abort, oversized answers).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  HarborMime,
  harborReportToFindings,
  ScannerAdapterClient,
  ScannerAdapterError,
  type ScanTarget,
} from '../../../../src/scanning/adapter/index.js';
import { freePort } from '../../../helpers/ports.js';
import {
  type ScannerAdapterStub,
  STUB_METADATA,
  startScannerAdapterStub,
} from '../../../helpers/scanner-adapter-stub.js';

const DIGEST = `sha256:${'a1'.repeat(32)}`;
const target: ScanTarget = {
  registryUrl: 'https://registry.example:5443',
  registryAuthorization: 'Bearer eyJhbGciOiJFUzI1NiJ9.pull-token.sig',
  repository: 'team/app',
  digest: DIGEST,
  tag: 'v1',
  mimeType: HarborMime.OciManifest,
};

const REPORT = {
  generated_at: '2025-03-04T05:06:07Z',
  artifact: { repository: 'team/app', digest: DIGEST, mime_type: HarborMime.OciManifest },
  scanner: STUB_METADATA.scanner,
  severity: 'Critical',
  vulnerabilities: [
    {
      id: 'CVE-2024-6387',
      package: 'openssh-server',
      version: '1:9.2p1-2+deb12u2',
      fix_version: '1:9.2p1-2+deb12u3',
      severity: 'Critical',
      description: 'regreSSHion: a signal handler race condition in sshd',
      links: ['https://security-tracker.debian.org/tracker/CVE-2024-6387'],
      preferred_cvss: { score_v3: 8.1, vector_v3: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H' },
      cwe_ids: ['CWE-364'],
      vendor_attributes: {},
    },
  ],
};

async function caught(promise: Promise<unknown>): Promise<ScannerAdapterError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ScannerAdapterError);
  return error as ScannerAdapterError;
}

describe('scanner adapter client', () => {
  let stub: ScannerAdapterStub;
  let client: ScannerAdapterClient;

  beforeAll(async () => {
    stub = await startScannerAdapterStub();
    client = new ScannerAdapterClient({ url: stub.url, requestTimeoutMs: 5_000 });
  });
  afterEach(() => {
    stub.set({});
    stub.requests.length = 0;
  });
  afterAll(() => stub.close());

  it('checks an adapter: its scanner, the manifests it scans, the report version to ask for', async () => {
    const capabilities = await client.check();
    expect(capabilities).toEqual({
      scanner: { name: 'StubScanner', vendor: 'Berth tests', version: '1.2.3' },
      consumes: [HarborMime.OciManifest, HarborMime.DockerManifest],
      reportMimeType: 'application/vnd.security.vulnerability.report; version=1.1',
      properties: STUB_METADATA.properties,
    });
    expect(stub.requests).toHaveLength(1);
    expect(stub.requests[0]).toMatchObject({ method: 'GET', path: '/api/v1/metadata' });
    expect(stub.requests[0]?.headers.accept).toBe(HarborMime.Metadata);
  });

  it('falls back to the 1.0 report when that is all an adapter produces', async () => {
    const capability = {
      consumes_mime_types: [HarborMime.DockerManifest],
      produces_mime_types: ['application/vnd.scanner.adapter.vuln.report.harbor+json;version=1.0'],
    };
    stub.set({ metadata: { status: 200, body: { ...STUB_METADATA, capabilities: [capability] } } });
    const capabilities = await client.check();
    expect(capabilities.reportMimeType).toBe(HarborMime.VulnerabilityReportV10);
    expect(capabilities.consumes).toEqual([HarborMime.DockerManifest]);
  });

  it.each([
    ['not JSON', { status: 200, raw: '<html>hello</html>' }, /answer is not JSON/],
    ['no scanner', { status: 200, body: { capabilities: STUB_METADATA.capabilities } }, /scanner.name/],
    [
      'no capabilities',
      { status: 200, body: { scanner: STUB_METADATA.scanner, capabilities: [] } },
      /non-empty/,
    ],
    [
      'a capability without mime types',
      { status: 200, body: { scanner: STUB_METADATA.scanner, capabilities: [{ consumes_mime_types: 'x' }] } },
      /consumes_mime_types and produces_mime_types/,
    ],
    [
      'only Helm charts',
      {
        status: 200,
        body: {
          scanner: STUB_METADATA.scanner,
          capabilities: [
            {
              consumes_mime_types: ['application/vnd.cncf.helm.config.v1+json'],
              produces_mime_types: [HarborMime.VulnerabilityReport],
            },
          ],
        },
      },
      /no capability consumes/,
    ],
    [
      'only SBOMs',
      {
        status: 200,
        body: {
          scanner: STUB_METADATA.scanner,
          capabilities: [
            {
              type: 'sbom',
              consumes_mime_types: [HarborMime.OciManifest],
              produces_mime_types: ['application/vnd.security.sbom.report+json; version=1.0'],
            },
          ],
        },
      },
      /no capability consumes/,
    ],
    [
      'a 500 with the spec error body',
      { status: 500, body: { error: { message: 'db not ready' } } },
      /db not ready \(HTTP 500\)/,
    ],
  ])('refuses an adapter whose metadata is %s', async (_, answer, message) => {
    stub.set({ metadata: answer });
    const error = await caught(client.check());
    expect(error.code).toBe('BAD_METADATA');
    expect(error.message).toMatch(message);
    expect(error.message).toContain(stub.url);
  });

  it('sends the scan request the spec describes, with the pull token and the artifact', async () => {
    const id = await client.submitScan(target);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const [request] = stub.requests;
    expect(request).toMatchObject({ method: 'POST', path: '/api/v1/scan' });
    expect(request?.headers['content-type']).toBe(HarborMime.ScanRequest);
    expect(JSON.parse(request?.body ?? '')).toEqual({
      registry: {
        url: 'https://registry.example:5443',
        authorization: 'Bearer eyJhbGciOiJFUzI1NiJ9.pull-token.sig',
      },
      artifact: { repository: 'team/app', digest: DIGEST, tag: 'v1', mime_type: HarborMime.OciManifest },
    });
  });

  it('sends its own Authorization to an adapter that wants one', async () => {
    stub.set({ adapterAuthorization: 'Bearer adapter-secret' });
    expect((await caught(client.check())).code).toBe('BAD_METADATA'); // 401 without it
    const authed = new ScannerAdapterClient({ url: stub.url, authorization: 'Bearer adapter-secret' });
    await expect(authed.check()).resolves.toMatchObject({ scanner: { name: 'StubScanner' } });
  });

  it('polls through 302s until the report is ready, and the report converts to findings', async () => {
    stub.set({ pendingPolls: 3, refreshAfter: '0', report: REPORT });
    const report = await client.scan(target, { maxWaitMs: 60_000 });
    const polls = stub.requests.filter((r) => r.path.endsWith('/report'));
    expect(polls).toHaveLength(4);
    for (const poll of polls) expect(poll.headers.accept).toBe(HarborMime.VulnerabilityReport);
    expect(polls[0]?.path).toMatch(/^\/api\/v1\/scan\/[0-9a-f-]{36}\/report$/);
    expect(new Set(polls.map((p) => p.path)).size).toBe(1);

    const { findings, unresolved } = harborReportToFindings(report, {
      packages: [
        {
          type: 'deb',
          namespace: 'debian',
          name: 'openssh-server',
          version: '1:9.2p1-2+deb12u2',
          source: { name: 'openssh' },
          purl: 'pkg:deb/debian/openssh-server@1%3A9.2p1-2%2Bdeb12u2?arch=amd64&distro=debian-12',
          location: '/var/lib/dpkg/status',
        },
      ],
      facts: { user: '', runsAsRoot: true, exposedPorts: [], sshServer: { installed: true } },
    });
    expect(unresolved).toEqual([]);
    expect(findings).toEqual([
      {
        id: 'CVE-2024-6387',
        aliases: [],
        package: {
          type: 'deb',
          name: 'openssh-server',
          version: '1:9.2p1-2+deb12u2',
          purl: 'pkg:deb/debian/openssh-server@1%3A9.2p1-2%2Bdeb12u2?arch=amd64&distro=debian-12',
        },
        fixedVersion: '1:9.2p1-2+deb12u3',
        severity: 'Critical',
        score: 8.1,
        vector: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H',
        summary: 'regreSSHion: a signal handler race condition in sshd',
        links: ['https://security-tracker.debian.org/tracker/CVE-2024-6387'],
      },
    ]);
  });

  it('waits as long as Refresh-After asks before polling again', async () => {
    stub.set({ pendingPolls: 1, refreshAfter: '1', report: REPORT });
    await client.scan(target, { maxWaitMs: 60_000 });
    const polls = stub.requests.filter((r) => r.path.endsWith('/report'));
    expect(polls).toHaveLength(2);
    // A lower bound only: a loaded machine makes the gap longer, never shorter.
    expect((polls[1]?.at ?? 0) - (polls[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it('gives up with REPORT_TIMEOUT when the report is not ready within the total wait', async () => {
    stub.set({ pendingPolls: 1_000_000, refreshAfter: '1' });
    const error = await caught(client.scan(target, { maxWaitMs: 500 }));
    expect(error.code).toBe('REPORT_TIMEOUT');
    expect(error.message).toMatch(/not ready after 500 ms/);
    // It did not sleep past the deadline to poll once more: one poll, then the 1 s wait would overrun.
    expect(stub.requests.filter((r) => r.path.endsWith('/report'))).toHaveLength(1);
  });

  it('stops polling when the caller aborts', async () => {
    stub.set({ pendingPolls: 1_000_000, refreshAfter: '30' });
    const controller = new AbortController();
    const scanning = client.scan(target, { maxWaitMs: 600_000, signal: controller.signal });
    while (!stub.requests.some((r) => r.path.endsWith('/report')))
      await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    const error = await caught(scanning);
    expect(error.code).toBe('ABORTED');
  });

  it('reports the adapter’s own message when it refuses a scan or the scan fails', async () => {
    stub.set({ scan: { status: 422, body: { error: { message: 'artifact.mime_type is not supported' } } } });
    const refused = await caught(client.submitScan(target));
    expect(refused).toMatchObject({ code: 'SCAN_FAILED', status: 422 });
    expect(refused.message).toContain('artifact.mime_type is not supported (HTTP 422)');
    expect(refused.message).toContain(`team/app@${DIGEST}`);

    stub.set({
      reportAnswer: { status: 500, body: { error: { message: 'pulling the image: unauthorized' } } },
    });
    const failed = await caught(client.scan(target));
    expect(failed).toMatchObject({ code: 'SCAN_FAILED', status: 500 });
    expect(failed.message).toContain('pulling the image: unauthorized');
  });

  it('says NOT_FOUND when the adapter has forgotten the scan, BAD_RESPONSE for a malformed report', async () => {
    expect((await caught(client.waitForReport('no-such-scan'))).code).toBe('NOT_FOUND');

    stub.set({ report: { vulnerabilities: [{ severity: 'High' }] } });
    const malformed = await caught(client.scan(target));
    expect(malformed.code).toBe('BAD_RESPONSE');
    expect(malformed.message).toContain('vulnerabilities[0] needs an id and a package');

    stub.set({ scan: { status: 202, body: { nope: true } } });
    expect((await caught(client.submitScan(target))).message).toMatch(/no scan id/);
  });

  it('refuses an answer larger than its cap', async () => {
    const big = {
      vulnerabilities: Array.from({ length: 2000 }, (_, i) => ({
        ...REPORT.vulnerabilities[0],
        id: `CVE-${i}`,
      })),
    };
    stub.set({ report: big });
    const small = new ScannerAdapterClient({ url: stub.url, maxBodyBytes: 64 * 1024 });
    const error = await caught(small.scan(target));
    expect(error.code).toBe('BAD_RESPONSE');
    expect(error.message).toContain('larger than 65536 bytes');
  });

  it('times out a request the adapter does not answer', async () => {
    stub.set({ delayMs: 3_000 });
    const impatient = new ScannerAdapterClient({ url: stub.url, requestTimeoutMs: 200 });
    const error = await caught(impatient.check());
    expect(error.code).toBe('TIMEOUT');
    expect(error.message).toMatch(/no answer within 200 ms/);
  });

  it('says UNREACHABLE when nothing listens at the adapter URL, and refuses a bad URL', async () => {
    const port = await freePort();
    const down = new ScannerAdapterClient({ url: `http://127.0.0.1:${port}` });
    const error = await caught(down.check());
    expect(error.code).toBe('UNREACHABLE');
    expect(error.message).toContain(`http://127.0.0.1:${port}`);
    expect(error.message).toContain('ECONNREFUSED');
    expect(() => new ScannerAdapterClient({ url: 'not a url' })).toThrow(ScannerAdapterError);
    expect(() => new ScannerAdapterClient({ url: 'ftp://x' })).toThrow(/http\(s\)/);
  });
});
