// The console's operations pages in a real browser (Debian's chromium driven by playwright-core) against real
// peers: a project webhook added by clicking delivers skopeo's push to a local HTTP receiver (signed; redelivered
// from the delivery log with the same event id); a second Berth added as a registry passes the connection test,
// a push policy run from the console copies the image there (live progress to "succeeded", its task listed); a
// project created by clicking as a pull-through cache of that Berth serves skopeo a pull; an OSV record imported
// on the Scanner page and "Scan now" on the artifact page show the vulnerability, with SBOM downloads; a blob
// corrupted on disk is found, quarantined and released on the Integrity scrub page; failed logins appear on the
// anomalies page. Any browser console error, page error, failed request or HTTP error answer from Berth fails the
// test. Screenshots go to test-results/console-operations/, or with BERTH_DOCS_SCREENSHOTS=1 to docs/images/.
import { createHash, createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, run } from '../fixtures/image.js';
import { tarOf } from '../fixtures/scanning/layers.js';
import { ociImageManifest } from '../helpers/oci-client.js';
import { startBerth, type TestBerth } from '../helpers/server.js';
import { CHROMIUM, collectPageProblems, launchChromium } from './chromium-page.js';

const missing = [...(requireTool('skopeo') ? [] : ['skopeo']), ...(existsSync(CHROMIUM) ? [] : ['chromium'])];
if (missing.length > 0) {
  console.warn(`\n!!! SKIPPING console operations browser tests: missing ${missing.join(', ')} !!!\n`);
}

const DOCS = process.env.BERTH_DOCS_SCREENSHOTS === '1';
const SHOTS = new URL(
  DOCS ? '../../docs/images/' : '../../test-results/console-operations/',
  import.meta.url,
);
const WEB_INDEX = new URL('../../dist/web/index.html', import.meta.url);
const FIXTURES = new URL('../fixtures/scanning/', import.meta.url);
const ADMIN_PASSWORD = 'console operations password';
const SECRET_KEY = `k1:${Buffer.alloc(32, 9).toString('base64')}`;
const WEBHOOK_SECRET = 'webhook secret of sixteen+';
const TIMEOUT = 180_000;

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/**
 * An OCI image layout of one Alpine 3.19 layer whose installed-packages database lists openssl 3.1.4-r4 (fixed
 * in 3.1.4-r5 by ALPINE-CVE-2024-0727, the OSV record the test imports).
 */
async function alpineLayout(dir: string): Promise<{ layerDigest: string }> {
  const installed = `${await readFile(new URL('alpine-3.19-installed', FIXTURES), 'utf8')}\nP:openssl\nV:3.1.4-r4\nA:x86_64\no:openssl\n\n`;
  const tar = await tarOf([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/os-release', content: await readFile(new URL('alpine-3.19-os-release', FIXTURES)) },
    { name: 'lib/', type: 'directory' },
    { name: 'lib/apk/', type: 'directory' },
    { name: 'lib/apk/db/', type: 'directory' },
    { name: 'lib/apk/db/installed', content: installed },
  ]);
  const layer = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
      history: [{ created_by: 'ADD alpine-rootfs.tar.gz / # console operations test' }],
    }),
  );
  const manifest = ociImageManifest(config, [layer]);
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const blob of [layer, config, manifest]) {
    await writeFile(join(dir, 'blobs', 'sha256', sha256(blob).slice(7)), blob);
  }
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: sha256(manifest),
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': '1' },
        },
      ],
    }),
  );
  return { layerDigest: sha256(layer) };
}

interface Received {
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A webhook receiver on loopback: keeps every POST. */
async function startReceiver(): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks) });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { server, url: `http://127.0.0.1:${port}/hook`, received };
}

describe.skipIf(missing.length > 0)('the console operations pages in chromium, against real peers', () => {
  let origin: TestBerth;
  let target: TestBerth;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let browser: Browser;
  let page: Page;
  let work: string;
  let layerDigest: string;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(WEB_INDEX)) await run('npm', ['run', 'build:web'], { timeoutMs: 120_000 });
    await mkdir(SHOTS, { recursive: true });
    work = await mkdtemp(join(tmpdir(), 'berth-console-ops-'));
    ({ layerDigest } = await alpineLayout(join(work, 'image')));
    receiver = await startReceiver();
    [origin, target] = await Promise.all([
      startBerth({
        config: {
          'auth.enabled': true,
          'replication.secretKey': SECRET_KEY,
          'webhooks.allowedHosts': '127.0.0.1',
          'webhooks.retrySeconds': 1,
          'audit.anomalies.failedLogins.perAccount': 3,
          'audit.anomalies.intervalSeconds': 3600,
        },
      }),
      startBerth({ config: { 'auth.enabled': true } }),
    ]);
    await origin.berth.accounts.setPassword('admin', ADMIN_PASSWORD);
    await target.berth.accounts.setPassword('admin', ADMIN_PASSWORD);
    await origin.berth.accounts.createUser({ username: 'dana', password: 'dana password 1' });
    await target.berth.accounts.createProject({ name: 'shop', public: true });
    browser = await launchChromium();
    const context = await browser.newContext({
      viewport: { width: 1400, height: 900 },
      acceptDownloads: true,
    });
    page = await context.newPage();
    // Leaving a page cancels its polls: navigation, not a failure.
    collectPageProblems(page, problems, {
      origin: origin.url,
      abortIsNavigation: true,
      loadErrorsAsResponses: true,
    });
  }, TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([origin?.close(), target?.close()]);
    receiver?.server.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const shot = (name: string) =>
    page.screenshot({
      path: new URL(`${DOCS ? 'console-' : ''}${name}.png`, SHOTS).pathname,
      fullPage: true,
    });
  const skopeo = (args: string[]) => run('skopeo', ['--insecure-policy', ...args], { timeoutMs: 120_000 });
  const creds = `admin:${ADMIN_PASSWORD}`;

  it(
    'webhooks, replication, a proxy project, scanning, the integrity scrub and anomalies, by clicking',
    async () => {
      await page.goto(origin.url);
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'Projects' }).waitFor();

      // --- an administrator sets a user's password; the token endpoint takes the new one only ---
      await page.getByRole('link', { name: 'Users' }).click();
      await page.getByRole('button', { name: 'Set the password of dana' }).click();
      const password = page.getByRole('form', { name: 'New password for dana' });
      await password.getByLabel('New password').fill('dana password 2');
      await password.getByLabel('Again').fill('dana password 2');
      await password.getByRole('button', { name: 'Set password' }).click();
      await page.getByRole('status').getByText('Password set; dana was signed out everywhere.').waitFor();
      const token = (secret: string) =>
        fetch(`${origin.url}/token?service=berth`, {
          headers: { authorization: `Basic ${Buffer.from(`dana:${secret}`).toString('base64')}` },
        }).then((answer) => answer.status);
      expect([await token('dana password 2'), await token('dana password 1')]).toEqual([200, 401]);
      await page.getByRole('link', { name: 'Projects' }).click();

      // --- a project and its webhook; skopeo's push is delivered, signed ---
      await page.getByLabel('New project').fill('shop');
      await page.getByRole('button', { name: 'Create', exact: true }).click();
      await page.getByRole('link', { name: 'shop' }).click();
      await page.getByRole('tab', { name: 'Webhooks' }).click();
      const form = page.getByRole('form', { name: 'New webhook' });
      await form.getByLabel('Name', { exact: true }).fill('ci');
      await form.getByLabel('URL', { exact: true }).fill(receiver.url);
      await form.getByLabel('Secret').fill(WEBHOOK_SECRET);
      await form.getByRole('button', { name: 'Add webhook' }).click();
      await page.getByTestId('webhook').getByText(receiver.url).waitFor();
      await skopeo([
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        creds,
        `oci:${join(work, 'image')}:1`,
        `docker://${origin.host}/shop/app:1`,
      ]);
      await expect.poll(() => receiver.received.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(1);
      const first = receiver.received[0] as Received;
      const event = JSON.parse(first.body.toString()) as { id: string; type: string; subject?: string };
      expect(event.type).toContain('push');
      const hmac = createHmac('sha256', WEBHOOK_SECRET).update(first.body).digest('hex');
      expect(first.headers['x-berth-signature']).toBe(`sha256=${hmac}`);
      await page.getByRole('button', { name: 'Deliveries' }).click();
      const delivered = page.getByTestId('delivery').filter({ hasText: 'delivered' });
      await expect
        .poll(
          async () => {
            await page.getByRole('button', { name: 'Refresh' }).click();
            return delivered.count();
          },
          { timeout: 30_000 },
        )
        .toBeGreaterThanOrEqual(1);
      await delivered
        .first()
        .getByRole('button', { name: /^Redeliver/ })
        .click();
      await expect.poll(() => receiver.received.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
      const again = JSON.parse((receiver.received[1] as Received).body.toString()) as { id: string };
      expect(again.id).toBe(event.id);
      await page.getByRole('button', { name: 'Refresh' }).click();
      await shot('webhooks');

      // --- replication to a second Berth, with live progress ---
      await page.getByRole('link', { name: 'Replication' }).click();
      const newRegistry = page.getByRole('form', { name: 'New registry' });
      await newRegistry.getByLabel('Name', { exact: true }).fill('dr-site');
      await newRegistry.getByLabel('URL', { exact: true }).fill(target.url);
      await newRegistry.getByLabel('User', { exact: true }).fill('admin');
      await newRegistry.getByLabel('Password').fill(ADMIN_PASSWORD);
      await newRegistry.getByRole('button', { name: 'Add registry' }).click();
      await page.getByRole('button', { name: 'Test dr-site' }).click();
      await page
        .getByTestId('connection')
        .getByText(/answers and lets the stored credentials in/)
        .waitFor();
      const newPolicy = page.getByRole('form', { name: 'New replication policy' });
      await newPolicy.getByLabel('Name', { exact: true }).fill('to-dr');
      await newPolicy.getByLabel('Repositories').fill('shop/**');
      await newPolicy.getByRole('button', { name: 'Add policy' }).click();
      await page.getByTestId('policy').getByText('to-dr').waitFor();
      await shot('replication');
      await page.getByRole('button', { name: 'Run to-dr' }).click();
      await page.getByRole('link', { name: /^execution \d+/ }).click();
      await page
        .getByTestId('execution-progress')
        .getByText(/^succeeded: 1 of 1 done: 1 copied/)
        .waitFor({
          timeout: 60_000,
        });
      await page.getByTestId('task').getByText('succeeded').waitFor();
      await shot('replication-execution');
      // The copy is real: the second Berth serves it.
      const copied = await skopeo(['inspect', '--tls-verify=false', `docker://${target.host}/shop/app:1`]);
      expect(JSON.parse(copied.stdout).Layers).toEqual([layerDigest]);

      // --- a pull-through cache of the second Berth, created by clicking ---
      await page.getByRole('link', { name: 'Projects' }).click();
      const create = page.getByRole('form', { name: 'Create a project' });
      await create.getByLabel('New project').fill('mirror');
      await create.getByText('As a pull-through cache of another registry').click();
      await create.getByLabel('Upstream URL').fill(target.url);
      await create.getByRole('button', { name: 'Create', exact: true }).click();
      await page.getByRole('link', { name: 'mirror' }).click();
      await page.getByRole('tab', { name: 'Policies' }).click();
      await page.getByTestId('project-settings').getByText(`A pull-through cache of ${target.url}`).waitFor();
      const cached = await skopeo([
        'inspect',
        '--tls-verify=false',
        '--creds',
        creds,
        `docker://${origin.host}/mirror/shop/app:1`,
      ]);
      expect(JSON.parse(cached.stdout).Layers).toEqual([layerDigest]);

      // --- the vulnerability database, then Scan now on the artifact page ---
      await page.getByRole('link', { name: 'Scanner' }).click();
      await page.getByTestId('database').getByText('No database imported yet').waitFor();
      await page.getByLabel('OSV records').setInputFiles({
        name: 'ALPINE-CVE-2024-0727.json',
        mimeType: 'application/json',
        buffer: await readFile(new URL('osv/Alpine/ALPINE-CVE-2024-0727.json', FIXTURES)),
      });
      await page.getByRole('button', { name: 'Import' }).click();
      await page.getByTestId('import-result').getByText('Imported 1 records').waitFor();
      await page.getByTestId('database').getByText('Records').waitFor();
      await shot('scanner');
      await page.getByRole('link', { name: 'Projects' }).click();
      await page.getByRole('link', { name: 'shop', exact: true }).click();
      await page.getByRole('link', { name: 'shop/app' }).click();
      await page.getByTestId('digest').first().click();
      await page.getByTestId('signature-status').getByText('Not signed.').waitFor();
      await page.getByRole('button', { name: 'Scan now' }).click();
      await page
        .getByTestId('scan-status')
        .getByText(/^1 vulnerability: 0 critical, 0 high, 1 medium/)
        .waitFor({
          timeout: 60_000,
        });
      const row = page.getByTestId('vulnerability');
      expect(await row.allTextContents()).toEqual([
        expect.stringMatching(/^Medium.*CVE-2024-0727.*openssl.*3\.1\.4-r4.*3\.1\.4-r5/),
      ]);
      const download = page.waitForEvent('download');
      await page.getByRole('link', { name: 'SBOM (CycloneDX 1.5)' }).click();
      const sbom = JSON.parse(await readFile((await (await download).path()) as string, 'utf8')) as {
        bomFormat: string;
        components: { name: string }[];
      };
      expect(sbom.bomFormat).toBe('CycloneDX');
      expect(sbom.components.map((c) => c.name)).toContain('openssl');
      await shot('artifact-vulnerabilities');

      // --- a corrupted blob: found, quarantined, released ---
      const blob = join(origin.dataDir, 'blobs', 'sha256', layerDigest.slice(7, 9), layerDigest.slice(7));
      const original = await readFile(blob);
      await writeFile(blob, Buffer.alloc(original.length, 0x42));
      await page.getByRole('link', { name: 'Integrity scrub' }).click();
      await page.getByLabel('quarantine corrupt blobs').check();
      await page.getByRole('button', { name: 'Start a scrub' }).click();
      await page
        .getByTestId('scrub-result')
        .getByText(/^1 corrupt, 0 missing/)
        .waitFor({ timeout: 60_000 });
      await page.getByRole('button', { name: 'Findings' }).click();
      await page.getByTestId('finding').getByText('shop/app (1)').waitFor();
      await page.getByRole('table', { name: 'Quarantined blobs' }).getByText(layerDigest).waitFor();
      await shot('scrub');
      await writeFile(blob, original);
      await page.getByRole('button', { name: `Release ${layerDigest}` }).click();
      await page.getByText('Nothing is quarantined.').waitFor();

      // --- failed logins become an anomaly ---
      for (let i = 0; i < 3; i++) {
        const login = await fetch(`${origin.url}/token?service=berth&scope=repository:shop/app:pull`, {
          headers: { authorization: `Basic ${Buffer.from('admin:wrong password').toString('base64')}` },
        });
        expect(login.status).toBe(401);
      }
      // As the detector's timer would, now: the audit log written, then read.
      await origin.berth.audit.flush();
      await origin.berth.anomalies.detect();
      await page.getByRole('link', { name: 'Audit log' }).click();
      await page.getByRole('link', { name: 'Anomalies the detector found' }).click();
      await page.getByTestId('anomaly').getByText('failed logins of an account').waitFor();
      await shot('anomalies');

      expect(problems).toEqual([]);
    },
    TIMEOUT,
  );
});
