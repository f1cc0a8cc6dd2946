// `berth scanner db import|info`, `berth artifact vulns|scan|sbom`, `berth scanner rescan` and `berth project
// scanning` (the real command) against a running Berth: an image whose dpkg database names a vulnerable openssh,
// the OSV fixtures imported from their directory, and what each command prints.
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tarOf } from '../fixtures/scanning/layers.js';
import { runCli } from '../helpers/cli.js';
import { descriptorOf, MT, OciClient, sha256 } from '../helpers/oci-client.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

const OSV = new URL('../fixtures/scanning/osv', import.meta.url).pathname;
const STATUS = `Package: openssh-server
Status: install ok installed
Architecture: amd64
Source: openssh
Version: 1:9.2p1-2+deb12u2

Package: busybox-static
Status: install ok installed
Architecture: amd64
Source: busybox
Version: 1:1.35.0-4+b3
`;
const OS_RELEASE =
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n';

/** Pushes team/app:1, an image of one gzip layer holding a dpkg status file and os-release; User unset (root). */
async function pushImage(client: OciClient): Promise<string> {
  const tar = await tarOf([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/os-release', content: OS_RELEASE },
    { name: 'var/lib/dpkg/', type: 'directory' },
    { name: 'var/lib/dpkg/status', content: STATUS },
  ]);
  const layer = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { ExposedPorts: { '22/tcp': {} } },
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
    }),
  );
  await client.pushBlob('team/app', config);
  await client.pushBlob('team/app', layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: descriptorOf(MT.ociConfig, config),
      layers: [descriptorOf('application/vnd.oci.image.layer.v1.tar+gzip', layer)],
    }),
  );
  await client.putManifest('team/app', '1', manifest, MT.ociManifest);
  return sha256(manifest);
}

describe('berth scanner / artifact vulns / project scanning', () => {
  let server: TestBerth;
  let admin: Record<string, string>;
  let client: OciClient;
  let digest: string;
  const berth = (...args: string[]) => runCli(args, { env: admin });

  beforeAll(async () => {
    server = await startBerth({ config: { 'scanning.pollSeconds': 1 } });
    await server.berth.accounts.setPassword('admin', 'admin cli password');
    await server.berth.accounts.createProject({ name: 'team' });
    admin = { BERTH_SERVER: server.url, BERTH_USER: 'admin', BERTH_PASSWORD: 'admin cli password' };
    client = new OciClient(server.url);
  });
  afterAll(() => server.close());

  it('says when no database is imported, then imports the OSV fixtures from their directory', async () => {
    expect(await berth('scanner', 'db', 'info')).toMatchObject({
      code: 0,
      stdout: 'no vulnerability database imported yet (berth scanner db import PATH)\n',
    });
    const imported = await berth('scanner', 'db', 'import', OSV);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(
      /^imported \d+ records \(0 rejected\); database version 1, \d+ records, data of 20/,
    );
    const info = await berth('scanner', 'db', 'info', '--json');
    expect(JSON.parse(info.stdout)).toMatchObject({ imported: true, version: 1, stale: true });
  });

  it('scans a pushed image and prints its vulnerabilities, facts and the policy answer', async () => {
    digest = await pushImage(client);
    // Scan on push is off by default: the scan is requested now, and --wait waits for it.
    const scanned = await berth('artifact', 'scan', 'team/app:1', '--wait');
    expect(scanned.code, scanned.stderr).toBe(0);
    expect(scanned.stdout).toContain(`image:    team/app@${digest}\nscan:     done\n`);
    expect(scanned.stdout).toContain(
      'Debian GNU/Linux 12 (bookworm), 2 packages, runs as root, SSH server installed',
    );
    expect(scanned.stdout).toMatch(/database: version 1, data of 20\S+ \(STALE\)/);
    expect(scanned.stdout).toMatch(
      /\nHigh\s+CVE-2024-6387\s+openssh-server\s+1:9\.2p1-2\+deb12u2\s+1:9\.2p1-2\+deb12u3\s+8\.1/,
    );
    expect(scanned.stdout).toContain('pull:     allowed');

    const json = JSON.parse((await berth('artifact', 'vulns', 'team/app:1', '--json')).stdout);
    expect(json).toMatchObject({
      status: 'done',
      digest,
      facts: { runsAsRoot: true, exposedPorts: ['22/tcp'] },
    });
    expect(json.vulnerabilities.map((f: { id: string }) => f.id)).toContain('CVE-2024-6387');
    const harborRun = await berth('artifact', 'vulns', 'team/app:1', '--harbor');
    expect(harborRun.code, harborRun.stderr).toBe(0);
    const harbor = JSON.parse(harborRun.stdout);
    expect(harbor.vulnerabilities.find((v: { id: string }) => v.id === 'CVE-2024-6387')).toMatchObject({
      package: 'openssh-server',
      fix_version: '1:9.2p1-2+deb12u3',
    });
    const sbom = await berth('artifact', 'sbom', 'team/app:1', '--format', 'cyclonedx');
    expect(JSON.parse(sbom.stdout)).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.5' });
    expect(sbom.stdout).toContain(
      '"purl":"pkg:deb/debian/openssh-server@1:9.2p1-2+deb12u2?arch=amd64&distro=debian-12"',
    );
  });

  it('sets policies, and a pull is refused naming the policy and the CVE until it is allowlisted', async () => {
    const set = await berth('project', 'scanning', 'team', '--block-severity', 'High');
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('refuse pulls of images with vulnerabilities of severity: High or above');
    const refused = await client.request('GET', `/v2/team/app/manifests/1`, {
      headers: { accept: MT.ociManifest },
    });
    const error = ((await refused.json()) as { errors: { code: string; message: string }[] }).errors[0];
    expect(refused.status).toBe(403);
    expect(error?.code).toBe('DENIED');
    expect(error?.message).toContain('policy scanning.severity=High');
    expect(error?.message).toContain('CVE-2024-6387 (High 8.1) in openssh-server 1:9.2p1-2+deb12u2');

    const vulns = await berth('artifact', 'vulns', 'team/app:1');
    expect(vulns.stdout).toMatch(/pull: {5}REFUSED: project team refuses images with vulnerabilities/);

    const allowed = await berth(
      'project',
      'scanning',
      'team',
      '--allow',
      'CVE-2024-6387@2999-01-01',
      '--json',
    );
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(JSON.parse(allowed.stdout).allowlist).toEqual([
      { id: 'CVE-2024-6387', expiresAt: '2999-01-01T00:00:00.000Z' },
    ]);
    const pulled = await client.request('GET', `/v2/team/app/manifests/1`, {
      headers: { accept: MT.ociManifest },
    });
    await pulled.arrayBuffer();
    expect(pulled.status).toBe(200);

    await berth('project', 'scanning', 'team', '--block-ssh', 'on');
    const ssh = await client.request('GET', `/v2/team/app/manifests/${digest}`, {
      headers: { accept: MT.ociManifest },
    });
    expect(((await ssh.json()) as { errors: { message: string }[] }).errors[0]?.message).toContain(
      '(policy scanning.ssh)',
    );

    expect(await berth('project', 'scanning', 'team', '--block-ssh', 'maybe')).toMatchObject({
      code: 2,
      stderr: "berth: --block-ssh: give on or off, not 'maybe'\n",
    });
  });

  it('reimports and rescans; refuses what is not OSV', async () => {
    const rescan = await berth('scanner', 'rescan', '--wait');
    expect(rescan.code, rescan.stderr).toBe(0);
    expect(rescan.stdout).toMatch(/^rescan \d+: \{"dbVersion":1,"rematched":0,"changed":0,"skipped":0\}\n$/);
    const again = await berth('scanner', 'db', 'import', OSV);
    expect(again.stdout).toMatch(/database version 2, .*; rescan \d+ started\n$/);
    const missing = await berth('scanner', 'db', 'import', '/nonexistent/osv');
    expect(missing).toMatchObject({ code: 2, stderr: 'berth: cannot read /nonexistent/osv: ENOENT\n' });
  });
});
