// The web console in a real browser: Debian's chromium driven by playwright-core against a real Berth (token
// auth on) with an image pushed by skopeo. Any browser console error, page error, failed request or HTTP error
// answer fails the test. Screenshots of each main page go to test-results/console/.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDigest } from '../../src/registry/index.js';
import { buildBusyboxLayout, type Layout, requireTool, run } from '../fixtures/image.js';
import { startBerth } from '../helpers/server.js';
import { CHROMIUM, collectPageProblems, launchChromium } from './chromium-page.js';

const TOOLS = ['skopeo', 'umoci', 'apt-get', 'dpkg'];
const missing = [
  ...TOOLS.filter((tool) => !requireTool(tool)),
  ...(existsSync(CHROMIUM) ? [] : ['chromium']),
];
if (missing.length > 0) {
  console.warn(
    `\n!!! SKIPPING console browser tests: missing ${missing.join(', ')} (apt-get install -y chromium) !!!\n`,
  );
}

const SHOTS = new URL('../../test-results/console/', import.meta.url);
const WEB_INDEX = new URL('../../dist/web/index.html', import.meta.url);
const ADMIN_PASSWORD = 'console admin password';
const REPOSITORIES = 10_000;
const TIMEOUT = 300_000;

type Berth = Awaited<ReturnType<typeof startBerth>>;

/** The console's own byte formatting (web/src/format.ts), to compare what the page shows. */
function bytes(value: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let size = value;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit++;
  }
  return `${unit === 0 ? size : size.toFixed(1)} ${units[unit]}`;
}

describe.skipIf(missing.length > 0)('the web console in chromium', () => {
  let berth: Berth;
  let browser: Browser;
  let page: Page;
  let busybox: Layout;
  const problems: string[] = [];
  const scripts = new Map<string, number>();

  beforeAll(async () => {
    if (!existsSync(WEB_INDEX)) await run('npm', ['run', 'build:web'], { timeoutMs: 120_000 });
    await mkdir(SHOTS, { recursive: true });
    busybox = await buildBusyboxLayout();
    berth = await startBerth({ config: { 'auth.enabled': true } });
    await berth.berth.accounts.setPassword('admin', ADMIN_PASSWORD);
    await berth.berth.accounts.createUser({ username: 'dev', password: 'dev password 1' });
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    page = await context.newPage();
    collectPageProblems(page, problems);
    page.on('response', async (response) => {
      if (response.request().resourceType() === 'script') {
        scripts.set(response.url(), Number((await response.allHeaders())['content-length'] ?? Number.NaN));
      }
    });
  }, TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    await berth?.close();
  });

  async function login(): Promise<void> {
    await page.context().clearCookies();
    await page.goto(berth.url);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
  }

  const shot = (name: string) =>
    page.screenshot({ path: new URL(`${name}.png`, SHOTS).pathname, fullPage: true });

  it(
    'logs in, creates a project, shows a pushed image, manages members and robots, runs GC, searches the audit log',
    async () => {
      await login();

      // First load: every script the page loaded, compressed (content-length of the brotli answer).
      const compressed = [...scripts.values()].reduce((sum, size) => sum + size, 0);
      expect(scripts.size).toBeGreaterThan(0);
      expect(compressed).toBeLessThanOrEqual(300 * 1024);

      await page.getByLabel('New project').fill('demo');
      await page.getByRole('button', { name: 'Create' }).click();
      await page.getByRole('link', { name: 'demo', exact: true }).waitFor();

      await run(
        'skopeo',
        [
          '--insecure-policy',
          'copy',
          '--dest-tls-verify=false',
          '--dest-creds',
          `admin:${ADMIN_PASSWORD}`,
          `oci:${busybox.dir}:${busybox.tag}`,
          `docker://${berth.host}/demo/busybox:1.0`,
        ],
        { timeoutMs: 120_000 },
      );
      const manifest = JSON.parse(
        (
          await run('skopeo', [
            'inspect',
            '--raw',
            '--tls-verify=false',
            '--creds',
            `admin:${ADMIN_PASSWORD}`,
            `docker://${berth.host}/demo/busybox:1.0`,
          ])
        ).stdout,
      ) as { config: { size: number }; layers: { digest: string; size: number }[] };
      const raw = JSON.stringify(manifest);
      expect(raw.length).toBeGreaterThan(0);
      await page.reload();
      await page.getByRole('row', { name: /demo/ }).getByText('1', { exact: true }).waitFor();
      await shot('projects');

      await page.getByRole('link', { name: 'demo', exact: true }).click();
      await page.getByRole('link', { name: 'demo/busybox' }).click();
      const digestCell = page.getByTestId('digest');
      await digestCell.waitFor();
      expect(await digestCell.textContent()).toBe(
        busybox.digest.slice('sha256:'.length, 'sha256:'.length + 12),
      );
      const manifestBytes = (
        await run('skopeo', [
          'inspect',
          '--raw',
          '--tls-verify=false',
          '--creds',
          `admin:${ADMIN_PASSWORD}`,
          `docker://${berth.host}/demo/busybox:1.0`,
        ])
      ).stdout.length;
      const total =
        manifestBytes + manifest.config.size + manifest.layers.reduce((sum, l) => sum + l.size, 0);
      expect(await page.getByTestId('size').textContent()).toBe(bytes(total));
      await page.getByRole('cell', { name: '1.0', exact: true }).waitFor();
      await page.getByText('unsigned').waitFor();
      await shot('artifacts');

      await digestCell.click();
      await page.getByRole('heading', { name: 'Layers' }).waitFor();
      await page.getByText(manifest.layers[0]?.digest as string, { exact: true }).waitFor();
      await shot('artifact');

      await page.goto(`${berth.url}/projects/demo`);
      await page.getByRole('tab', { name: 'Members' }).click();
      await page.getByLabel('Name').fill('dev');
      await page.getByLabel('Role').selectOption('developer');
      await page.getByRole('button', { name: 'Add member' }).click();
      await page.getByRole('cell', { name: 'developer' }).waitFor();
      await shot('members');

      await page.getByRole('tab', { name: 'Robots' }).click();
      await page.getByLabel('Name').fill('ci');
      await page.getByRole('button', { name: 'Create robot' }).click();
      const secret = (await page.getByTestId('robot-secret').textContent()) ?? '';
      expect(secret.length).toBeGreaterThan(20);
      await shot('robots');
      // The secret is real: the robot pulls with it.
      await run('skopeo', [
        'inspect',
        '--tls-verify=false',
        '--creds',
        `robot$ci:${secret}`,
        `docker://${berth.host}/demo/busybox:1.0`,
      ]);
      await page.getByRole('button', { name: 'Done' }).click();
      expect(await page.getByTestId('robot-secret').count()).toBe(0);

      await page.getByRole('link', { name: 'Garbage collection' }).click();
      await page.getByRole('button', { name: 'Start a dry run' }).click();
      await page.getByTestId('gc-status').getByText('succeeded').waitFor({ timeout: 120_000 });
      await expect.poll(() => page.getByRole('cell', { name: 'dry run' }).count()).toBe(1);
      await shot('gc');

      await page.getByRole('link', { name: 'Audit log' }).click();
      await page.getByLabel('Action').fill('project.create');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.getByRole('cell', { name: 'demo', exact: true }).first().waitFor();
      const actions = await page.getByTestId('audit-event').locator('td:nth-child(3)').allTextContents();
      expect(actions.length).toBeGreaterThan(0);
      expect(new Set(actions)).toEqual(new Set(['project.create']));
      await shot('audit');

      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByRole('button', { name: 'Log in' }).waitFor();
      await page.reload();
      await page.getByRole('button', { name: 'Log in' }).waitFor();

      expect(problems).toEqual([]);
      await writeFile(new URL('first-load.json', SHOTS), JSON.stringify({ compressedJsBytes: compressed }));
      console.log(`console: first-load JavaScript ${compressed} bytes compressed (${scripts.size} file(s))`);
    },
    TIMEOUT,
  );

  it(
    `renders the repository page of a project with ${REPOSITORIES.toLocaleString('en')} repositories`,
    async () => {
      const { registry, accounts } = berth.berth;
      await accounts.createProject({ name: 'many' });
      // One real blob, linked into each repository through the metadata core (no HTTP pushes).
      const content = Buffer.from('console bench layer');
      const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
      await registry.store.write('uploads/console-bench', [content], 0);
      await registry.blobs.commit(
        'many/repo-00000',
        'uploads/console-bench',
        parseDigest(digest),
        content.length,
      );
      for (let i = 1; i < REPOSITORIES; i++) {
        await registry.meta.linkBlob(`many/repo-${String(i).padStart(5, '0')}`, digest, content.length);
      }

      await login();
      // The projects page asks for each project's quota and repository count; let those finish, or leaving the
      // page cancels them (net::ERR_ABORTED), which is navigation, not a failure.
      await page.waitForLoadState('networkidle');
      problems.length = 0;

      const started = Date.now();
      await page.goto(`${berth.url}/projects/many`);
      await page.getByTestId('repository-total').getByText('10,000 repositories').waitFor();
      await page.getByRole('link', { name: 'many/repo-00099' }).waitFor();
      const ms = Date.now() - started;
      expect(await page.getByRole('link', { name: /^many\/repo-/ }).count()).toBe(100);
      await page.getByRole('button', { name: 'Next page' }).click();
      await page.getByRole('link', { name: 'many/repo-00199' }).waitFor();
      await page.getByLabel('Search').fill('repo-0424');
      await page.getByTestId('repository-total').getByText('10 repositories').waitFor();
      await shot('repositories');
      expect(problems).toEqual([]);
      await writeFile(
        new URL('repositories.json', SHOTS),
        JSON.stringify({ repositories: REPOSITORIES, ms }),
      );
      console.log(`console: repository page of ${REPOSITORIES} repositories rendered in ${ms} ms`);
    },
    TIMEOUT,
  );
});
