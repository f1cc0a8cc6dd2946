// Vulnerability scanning end to end (issue 12, "Done means"): a real Debian 12 image (openssh-server,
// openssh-client, busybox-static from apt-get download, a real dpkg status; root, port 22) pushed by skopeo to a
// Berth with token auth is scanned in the background; its SPDX and CycloneDX SBOMs are referrers that the
// referrers API and the real `oras discover` list; the SPDX document validates and agrees with dpkg-deb and with
// syft; importing a newer OSV database rescans in the background and the report gains the unfixed
// CVE-2023-51767; the project's policies refuse the developer's pull naming the policy and the CVE (an allowlist
// entry lifts it until it expires), root and the SSH server are refused, an administrator's bypass is audited,
// and an unscanned image is refused. Then the core once more on PostgreSQL metadata and S3 (Swift) storage.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PackageURL } from 'packageurl-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit, expectEvent, type Login } from '../auth/support.js';
import { findExecutable, RunError, requireTool, run } from '../fixtures/image.js';
import { type LayoutImage, writeDebianLayout } from '../fixtures/scanning/debian-image.js';
import { buildDebianLayer, type DebianLayer, hasDebianTools } from '../fixtures/scanning/debian-layer.js';
import { findGoTool, privateHome } from '../helpers/go-tools.js';
import { createTestDatabase, dropTestDatabase, postgresAvailable } from '../helpers/postgres.js';
import {
  berthS3Storage,
  createBucket,
  deleteBucket,
  ensureSwift,
  type S3Endpoint,
  s3Client,
} from '../helpers/swift.js';
import { spdxValidator } from '../unit/scanning/sbom/sbom-schemas.js';
import {
  DEADLINE_MS,
  eventually,
  manifestGet,
  type ScanningRegistry,
  startScanningRegistry,
} from './scanning-registry.js';

const OSV_FIXTURES = fileURLToPath(new URL('../fixtures/scanning/osv/', import.meta.url));
const OSV_UPDATE = fileURLToPath(new URL('../fixtures/scanning/osv-update/', import.meta.url));
const SPDX = 'application/spdx+json';
const CYCLONEDX = 'application/vnd.cyclonedx+json';
const CVE = 'CVE-2023-51767';
const PACKAGES = ['openssh-server', 'openssh-client', 'busybox-static'];
/** A whole test: a scan or rescan must finish within DEADLINE_MS, and the clients run around it. */
const TIMEOUT = DEADLINE_MS + 120_000;
const CLIENT_TIMEOUT = 90_000;

const missing = [
  ...['skopeo', 'zip'].filter((tool) => !requireTool(tool)),
  ...((await hasDebianTools()) ? [] : ['dpkg-deb/apt-get/tar']),
];
if (missing.length > 0) {
  console.warn(`\n!!! SKIPPING the scanning e2e tests: missing tool(s): ${missing.join(', ')} !!!\n`);
}
// Not in scripts/test-services.sh's Go tools (yet): looked for where `go install` puts it, skipped loudly.
const syft = findExecutable('syft', ['/root/go/bin']);
if (!syft) console.warn('\n!!! SKIPPING the syft peer check: syft is not installed (go install syft) !!!\n');
const oras = findGoTool('oras');
// The PostgreSQL + S3 run needs both services (each helper warns loudly when its service is absent).
const s3: S3Endpoint | undefined =
  missing.length === 0 && postgresAvailable ? await ensureSwift() : undefined;
if (!oras) console.warn('\n!!! SKIPPING oras discover of the SBOM referrers: oras is not installed !!!\n');

interface Finding {
  id: string;
  aliases: string[];
  package: { type: string; name: string; version: string; purl: string };
  fixedVersion?: string;
  severity: string;
  score?: number;
  vector?: string;
}

interface Report {
  digest: string;
  status: string;
  error?: string;
  summary?: Record<string, number>;
  packages?: number;
  complete?: boolean;
  problems?: string[];
  facts?: {
    user: string;
    runsAsRoot: boolean;
    exposedPorts: string[];
    sshServer: { installed: boolean; evidence?: string };
    os?: { id: string; versionId?: string };
  };
  vulnerabilities?: Finding[];
  sboms?: { mediaType: string; digest: string }[];
  database?: { version: number; updated: string | null; stale: boolean; current: boolean };
  policy: { decision: string; policy?: string; message?: string };
}

interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo?: string;
  sourceInfo?: string;
  externalRefs?: { referenceType: string; referenceLocator: string }[];
}

interface Rescan {
  id: number;
  status: string;
  error: string | null;
  summary: { dbVersion: number; rematched: number; changed: number; skipped: number } | null;
}

/** The Debian image, built once: its layout holds `12` (the image under test) and `fresh` (another config). */
interface DebianImage {
  layer: DebianLayer;
  layout: string;
  /** The same `12` image alone (syft's oci-dir source takes a layout with one image per platform). */
  single: string;
  main: LayoutImage;
  fresh: LayoutImage;
}

/** No User: root. Port 22, as an image that runs sshd declares it. */
const MAIN = { tag: '12', config: { ExposedPorts: { '22/tcp': {} }, Cmd: ['/usr/sbin/sshd', '-D'] } };

async function buildImage(tmp: string): Promise<DebianImage> {
  const layer = await buildDebianLayer({ installed: PACKAGES });
  const layout = join(tmp, 'layout');
  const [main, fresh] = await writeDebianLayout(layout, layer, [
    MAIN,
    { tag: 'fresh', config: { Labels: { 'org.example.build': 'fresh' } } },
  ]);
  const single = join(tmp, 'single');
  const [alone] = await writeDebianLayout(single, layer, [MAIN]);
  expect(alone?.digest).toBe(main?.digest);
  return { layer, layout, single, main: main as LayoutImage, fresh: fresh as LayoutImage };
}

/** The checked-in OSV fixtures as one zip (the `zip` CLI), as `berth scanner db import` users upload them. */
async function zipFixtures(tmp: string): Promise<Buffer> {
  const path = join(tmp, 'osv.zip');
  await run('zip', ['-q', '-r', path, '.'], { cwd: OSV_FIXTURES });
  return readFile(path);
}

async function countJson(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((name) => name.endsWith('.json')).length;
}

/** The scanning flow against one Berth; `full` adds the client and policy checks the backend does not change. */
function scanningSuite(
  name: string,
  start: () => Promise<{ registry: ScanningRegistry; cleanup(): Promise<void> }>,
  full: boolean,
) {
  // The client and policy checks the backend does not change run once, on the full run, not on the other.
  const onFullRun = full ? it : Object.assign(() => undefined, { skipIf: () => () => undefined });
  describe(name, () => {
    let tmp: string;
    let image: DebianImage;
    let registry: ScanningRegistry;
    let cleanup: () => Promise<void> = async () => undefined;
    let env: NodeJS.ProcessEnv;

    const repo = () => `${registry.project}/debian`;
    const artifact = (reference: string) =>
      `/api/v1/projects/${registry.project}/repositories/debian/artifacts/${reference}`;
    const remote = (reference: string) => `docker://${registry.host}/${repo()}:${reference}`;
    const creds = (who: Login) => `${who.username}:${who.password}`;

    function skopeo(...args: string[]) {
      return run('skopeo', ['--insecure-policy', ...args], { env, timeoutMs: CLIENT_TIMEOUT });
    }
    function push(tag: string) {
      return skopeo(
        'copy',
        '--dest-creds',
        creds(registry.maintainer),
        '--dest-tls-verify=false',
        `oci:${image.layout}:${tag}`,
        remote(tag),
      );
    }
    /** `skopeo inspect --raw` (the manifest GET alone) as `who`: the manifest's text, or the refusal it printed. */
    async function inspect(who: Login, tag = '12'): Promise<{ ok: boolean; output: string }> {
      try {
        const { stdout } = await skopeo(
          'inspect',
          '--raw',
          '--tls-verify=false',
          '--creds',
          creds(who),
          remote(tag),
        );
        return { ok: true, output: stdout };
      } catch (error) {
        if (!(error instanceof RunError)) throw error;
        return { ok: false, output: `${error.stderr}\n${error.stdout}` };
      }
    }
    const report = (reference = '12') =>
      registry.json<Report>('GET', `${artifact(reference)}/vulnerabilities`);
    const settings = (change: Record<string, unknown>) =>
      registry.json('PATCH', `/api/v1/projects/${registry.project}/scanning`, change);
    /** The report once its scan finished (done or failed). */
    const finished = (reference = '12', predicate: (r: Report) => boolean = () => true) =>
      eventually(`the scan of ${reference} to finish`, async () => {
        const current = await report(reference);
        return (current.status === 'done' || current.status === 'failed') && predicate(current)
          ? current
          : undefined;
      });

    /** The refusal the developer's own manifest GET gets: 403 DENIED, its message. */
    async function refusal(tag = '12'): Promise<string> {
      const res = await manifestGet(registry, registry.developer, repo(), tag);
      const text = await res.text();
      expect(res.status, text).toBe(403);
      const error = (JSON.parse(text) as { errors: { code: string; message: string }[] }).errors[0];
      expect(error?.code, text).toBe('DENIED');
      return error?.message ?? '';
    }

    beforeAll(async () => {
      tmp = await mkdtemp(join(tmpdir(), 'berth-e2e-scanning-'));
      env = await privateHome(join(tmp, 'home'));
      image = await buildImage(tmp);
      ({ registry, cleanup } = await start());
      // Scan on push is off by default (as in Harbor): this project turns it on.
      await settings({ scanOnPush: true });
    }, TIMEOUT);

    afterAll(async () => {
      await registry?.close();
      await cleanup();
      if (image) await rm(image.layer.dir, { recursive: true, force: true });
      if (tmp) await rm(tmp, { recursive: true, force: true });
    });

    it(
      'imports the OSV fixtures as a zip before any push; nothing to rescan yet',
      async () => {
        const res = await registry.api(
          'PUT',
          '/api/v1/scanner/database',
          await zipFixtures(tmp),
          'application/zip',
        );
        const text = await res.text();
        expect(res.status, text).toBe(200);
        const imported = JSON.parse(text) as {
          imported: number;
          rejected: number;
          problems: string[];
          database: { imported: boolean; version: number; records: number; updated: string };
          rescan: number | null;
        };
        expect(imported).toMatchObject({
          imported: await countJson(OSV_FIXTURES),
          rejected: 0,
          problems: [],
        });
        expect(imported.database.imported).toBe(true);
        expect(imported.rescan).toBeNull();
        const database = await registry.json<{ version: number }>('GET', '/api/v1/scanner/database');
        expect(database.version).toBe(imported.database.version);
      },
      TIMEOUT,
    );

    it(
      'scans a skopeo push in the background: packages, facts, SBOMs, matched against the current database',
      async () => {
        await push('12');
        const done = await finished();
        expect(done.status, done.error).toBe('done');
        expect(done.digest).toBe(image.main.digest);
        expect(done.complete, JSON.stringify(done.problems)).toBe(true);
        expect(done.packages).toBe(PACKAGES.length);
        expect(done.facts).toMatchObject({
          user: '',
          runsAsRoot: true,
          exposedPorts: ['22/tcp'],
          sshServer: { installed: true },
          os: { id: 'debian', versionId: '12' },
        });
        expect(done.database?.current).toBe(true);
        // The old fixtures' openssh CVEs are fixed in the openssh apt fetches today.
        expect(done.vulnerabilities?.map((finding) => finding.id) ?? []).not.toContain(CVE);
        expect(done.sboms?.map((sbom) => sbom.mediaType).sort()).toEqual([SPDX, CYCLONEDX].sort());
        // Nothing refuses yet.
        expect(done.policy).toEqual({ decision: 'allow' });
        expect((await inspect(registry.developer)).ok).toBe(true);
      },
      TIMEOUT,
    );

    it(
      'lists the SBOMs as referrers of the image (the referrers API and oras discover)',
      async () => {
        const res = await registry.api('GET', `/v2/${repo()}/referrers/${image.main.digest}`);
        const text = await res.text();
        expect(res.status, text).toBe(200);
        const listed = (JSON.parse(text) as { manifests: { digest: string; artifactType?: string }[] })
          .manifests;
        const sboms = (await report()).sboms ?? [];
        expect(listed.map((m) => [m.artifactType, m.digest]).sort()).toEqual(
          sboms.map((sbom) => [sbom.mediaType, sbom.digest]).sort(),
        );
        if (!oras || !full) return;
        const auth = join(tmp, 'oras-auth.json');
        const orasRun = (...args: string[]) =>
          run(oras, [...args, '--plain-http', '--registry-config', auth], { env, timeoutMs: CLIENT_TIMEOUT });
        await orasRun(
          'login',
          registry.host,
          '-u',
          registry.developer.username,
          '-p',
          registry.developer.password,
        );
        const discovered = async (...flags: string[]) => {
          const { stdout } = await orasRun(
            'discover',
            `${registry.host}/${repo()}@${image.main.digest}`,
            '--distribution-spec',
            'v1.1-referrers-api',
            '--format',
            'json',
            ...flags,
          );
          return (JSON.parse(stdout) as { referrers: { digest: string; artifactType: string }[] }).referrers;
        };
        expect((await discovered()).map((r) => r.artifactType).sort()).toEqual([SPDX, CYCLONEDX].sort());
        const spdxOnly = await discovered('--artifact-type', SPDX);
        expect(spdxOnly.map((r) => r.digest)).toEqual(
          sboms.filter((s) => s.mediaType === SPDX).map((s) => s.digest),
        );
      },
      TIMEOUT,
    );

    let spdxPackages: SpdxPackage[] = [];

    it(
      'serves an SPDX 2.3 document that validates and lists each package as dpkg-deb reports it',
      async () => {
        const res = await registry.api('GET', `${artifact('12')}/sbom?format=spdx`);
        const text = await res.text();
        expect(res.status, text).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^application\/spdx\+json/);
        const document = JSON.parse(text) as { spdxVersion: string; packages: SpdxPackage[] };
        expect(spdxValidator()(document)).toEqual([]);
        expect(document.spdxVersion).toBe('SPDX-2.3');
        spdxPackages = document.packages;
        for (const deb of image.layer.installed) {
          const found = document.packages.find((pkg) => pkg.name === deb.name);
          expect(found, `${deb.name} in the SPDX document`).toBeDefined();
          expect(found?.versionInfo).toBe(deb.version);
          expect(found?.sourceInfo ?? '').toContain(`built from source package ${deb.sourceName}`);
          // The purl names the binary package at the exact installed version (however its characters are
          // escaped: Berth writes packageurl-js's canonical form, syft escapes `:` and `+`).
          const purl = found?.externalRefs?.find((ref) => ref.referenceType === 'purl')?.referenceLocator;
          const parsed = PackageURL.fromString(purl ?? '');
          expect(parsed).toMatchObject({
            type: 'deb',
            namespace: 'debian',
            name: deb.name,
            version: deb.version,
          });
          expect(parsed.qualifiers).toMatchObject({ arch: 'amd64', distro: 'debian-12' });
        }
        // The exact version as the .deb itself says it (dpkg-deb -f), for the package the policies are about.
        const server = image.layer.installed.find((deb) => deb.name === 'openssh-server');
        expect(server?.sourceName).toBe('openssh');
        const cdx = await registry.api('GET', `${artifact('12')}/sbom?format=cyclonedx`);
        const bom = JSON.parse(await cdx.text()) as {
          specVersion: string;
          components: { name: string; version: string; properties?: { name: string; value: string }[] }[];
        };
        expect(bom.specVersion).toBe('1.5');
        const component = bom.components.find((c) => c.name === 'openssh-server');
        expect(component?.version).toBe(server?.version);
        expect(component?.properties).toContainEqual({ name: 'berth:source-package', value: 'openssh' });
      },
      TIMEOUT,
    );

    onFullRun.skipIf(!syft)(
      'agrees with syft on every deb package of the same image (name and version, both ways)',
      async () => {
        const { stdout } = await run(syft as string, ['scan', `oci-dir:${image.single}`, '-o', 'syft-json'], {
          env: { ...env, SYFT_CHECK_FOR_APP_UPDATE: 'false' },
          timeoutMs: CLIENT_TIMEOUT,
        });
        const artifacts = (
          JSON.parse(stdout) as { artifacts: { type: string; name: string; version: string }[] }
        ).artifacts;
        const syftDebs = artifacts
          .filter((a) => a.type === 'deb')
          .map((a) => `${a.name}@${a.version}`)
          .sort();
        const berthDebs = spdxPackages
          .filter((pkg) => pkg.externalRefs?.some((ref) => ref.referenceLocator.startsWith('pkg:deb/')))
          .map((pkg) => `${pkg.name}@${pkg.versionInfo}`)
          .sort();
        expect(syftDebs).toHaveLength(PACKAGES.length);
        expect(berthDebs).toEqual(syftDebs);
        // syft also reports busybox as a `binary` package (it recognises the executable's version string);
        // Berth reads package databases, not binaries, so that one has no counterpart, by design.
      },
      TIMEOUT,
    );

    it(
      'rescans everything in the background after a newer database is imported: the unfixed CVE appears',
      async () => {
        const before = await report();
        const ndjson = `${JSON.stringify(JSON.parse(await readFile(join(OSV_UPDATE, `DEBIAN-${CVE}.json`), 'utf8')))}\n`;
        const res = await registry.api('PUT', '/api/v1/scanner/database', ndjson, 'application/x-ndjson');
        const text = await res.text();
        expect(res.status, text).toBe(200);
        const imported = JSON.parse(text) as {
          imported: number;
          database: { version: number };
          rescan: number | null;
        };
        expect(imported.imported).toBe(1);
        expect(imported.database.version).toBeGreaterThan(
          before.database?.version ?? Number.POSITIVE_INFINITY,
        );
        expect(imported.rescan, 'a rescan run started').not.toBeNull();

        const run = await eventually('the rescan run to end', async () => {
          const current = await registry.json<Rescan>('GET', `/api/v1/scanner/rescans/${imported.rescan}`);
          return current.status === 'running' ? undefined : current;
        });
        expect(run.status, run.error ?? '').toBe('succeeded');
        expect(run.summary).toMatchObject({ dbVersion: imported.database.version, changed: 1 });
        const listed = await registry.json<{ items: Rescan[] }>('GET', '/api/v1/scanner/rescans');
        expect(listed.items.map((item) => item.id)).toContain(imported.rescan);

        const after = await report();
        expect(after.database).toMatchObject({ version: imported.database.version, current: true });
        const finding = after.vulnerabilities?.find((f) => f.id === CVE || f.aliases.includes(CVE));
        expect(finding, JSON.stringify(after.vulnerabilities)).toBeDefined();
        const server = image.layer.installed.find((deb) => deb.name === 'openssh-server');
        // An advisory on the source package openssh: both binary packages built from it are affected.
        expect(
          after.vulnerabilities
            ?.filter((f) => f.id === finding?.id)
            .map((f) => f.package.name)
            .sort(),
        ).toEqual(['openssh-client', 'openssh-server']);
        expect(finding).toMatchObject({
          severity: 'High',
          score: 7,
          vector: 'CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:H/A:H',
        });
        expect(finding?.fixedVersion).toBeUndefined();
        expect(after.vulnerabilities?.find((f) => f.package.name === 'openssh-server')?.package.version).toBe(
          server?.version,
        );
        expect(after.summary?.high).toBe(2);

        // The Harbor scanner-adapter format of the same report.
        const harbor = await registry.api('GET', `${artifact('12')}/vulnerabilities?format=harbor`);
        const harborText = await harbor.text();
        expect(harbor.status, harborText).toBe(200);
        expect(harbor.headers.get('content-type')).toMatch(
          /^application\/vnd\.security\.vulnerability\.report/,
        );
        const items = (
          JSON.parse(harborText) as {
            vulnerabilities: {
              id: string;
              package: string;
              version: string;
              fix_version?: string;
              severity: string;
            }[];
          }
        ).vulnerabilities.filter((v) => v.id === CVE);
        expect(items.map((v) => v.package).sort()).toEqual(['openssh-client', 'openssh-server']);
        for (const item of items) {
          expect(item.severity).toBe('High');
          expect(item.fix_version).toBeUndefined();
          expect(item.version).toBe(server?.version);
        }
      },
      TIMEOUT,
    );

    it(
      'refuses the developer a pull at blockSeverity High, naming the policy and the CVE; an allowlist entry lifts it until it expires',
      async () => {
        await settings({ blockSeverity: 'High' });
        const message = await refusal();
        expect(message).toContain('scanning.severity');
        expect(message).toContain(CVE);
        const client = await inspect(registry.developer);
        expect(client.ok).toBe(false);
        expect(client.output).toMatch(/denied/i);
        expect(client.output).toContain(CVE);
        expect((await report()).policy).toMatchObject({ decision: 'refuse', policy: 'scanning.severity' });

        const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
        await settings({
          allowlist: [{ id: CVE, expiresAt: tomorrow, reason: 'row hammer: not our threat model' }],
        });
        const allowed = await inspect(registry.developer);
        expect(allowed.ok, allowed.output).toBe(true);
        expect(JSON.parse(allowed.output).config.digest).toBe(image.main.configDigest);

        const yesterday = new Date(Date.now() - 86_400_000).toISOString();
        await settings({ allowlist: [{ id: CVE, expiresAt: yesterday }] });
        expect(await refusal()).toContain(CVE);
        await settings({ blockSeverity: null, allowlist: [] });
        expect((await inspect(registry.developer)).ok).toBe(true);
      },
      TIMEOUT,
    );

    onFullRun(
      'refuses an image that runs as root, and one with an SSH server, each naming its policy',
      async () => {
        await settings({ blockRoot: true });
        const root = await refusal();
        expect(root).toContain('scanning.root');
        expect(root).toMatch(/root/);
        await settings({ blockRoot: false, blockSsh: true });
        const ssh = await refusal();
        expect(ssh).toContain('scanning.ssh');
        expect(ssh).toMatch(/SSH server/);
        expect(ssh).toContain('openssh-server');
        const client = await inspect(registry.developer);
        expect(client.ok).toBe(false);
        expect(client.output).toContain('scanning.ssh');
      },
      TIMEOUT,
    );

    onFullRun(
      'lets a system administrator pull what a policy refuses, and audits the bypass and the refusal',
      async () => {
        await settings({ blockSsh: true });
        const pulled = await inspect(registry.admin);
        expect(pulled.ok, pulled.output).toBe(true);
        const resource = `${repo()}@${image.main.digest}`;
        const bypass = await eventually('the bypass in the audit log', async () => {
          const events = await audit(registry.berth, { action: 'policy.bypassed', resourcePrefix: resource });
          return events.length > 0 ? events : undefined;
        });
        expectEvent(bypass, { actor: registry.admin.username, resource, result: 'success' });
        expect(bypass[0]?.detail).toContain('scanning.ssh');
        const refusals = await eventually('the refusals in the audit log', async () => {
          const events = await audit(registry.berth, {
            action: 'policy.refused',
            actor: registry.developer.username,
          });
          return events.length > 0 ? events : undefined;
        });
        expectEvent(refusals, { resource, result: 'failure' });
        await settings({ blockSsh: false });
      },
      TIMEOUT,
    );

    onFullRun(
      'refuses a freshly pushed image as not scanned when scan-on-push is off, until it is scanned',
      async () => {
        await settings({ scanOnPush: false, blockUnscanned: true });
        await push('fresh');
        const message = await refusal('fresh');
        expect(message).toContain('scanning.unscanned');
        expect(message).toMatch(/not been scanned/);
        expect((await report('fresh')).status).toBe('not-scanned');
        // The image scanned already still pulls.
        expect((await inspect(registry.developer, '12')).ok).toBe(true);

        const queued = await registry.json<Report>('POST', `${artifact('fresh')}/scan`, undefined, 202);
        expect(['queued', 'running', 'done']).toContain(queued.status);
        const done = await finished('fresh');
        expect(done.status, done.error).toBe('done');
        expect(done.digest).toBe(image.fresh.digest);
        expect(done.facts?.exposedPorts).toEqual([]);
        const pulled = await inspect(registry.developer, 'fresh');
        expect(pulled.ok, pulled.output).toBe(true);
        await settings({ scanOnPush: true, blockUnscanned: false });
      },
      TIMEOUT,
    );
  });
}

describe.skipIf(missing.length > 0)('vulnerability scanning end to end', () => {
  scanningSuite(
    'on SQLite and the filesystem',
    async () => ({ registry: await startScanningRegistry(), cleanup: async () => undefined }),
    true,
  );

  describe.skipIf(!s3)('on PostgreSQL and S3', () => {
    scanningSuite(
      'the core: scan, SBOM referrers, rescan, a refusal naming the CVE',
      async () => {
        const target = s3 as S3Endpoint;
        const client = s3Client(target);
        const bucket = await createBucket(client);
        const database = await createTestDatabase();
        const registry = await startScanningRegistry({
          'metadata.url': database,
          ...berthS3Storage(target, bucket),
        });
        return {
          registry,
          async cleanup() {
            await dropTestDatabase(database);
            await deleteBucket(client, bucket);
          },
        };
      },
      false,
    );
  });
});
