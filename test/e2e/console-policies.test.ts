import { existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxLayout, type Layout, RunError, requireTool, run } from '../fixtures/image.js';
import { pushConfigOnlyImage } from '../helpers/registry-core.js';
import { startBerth } from '../helpers/server.js';
import { CHROMIUM, collectPageProblems, launchChromium } from './chromium-page.js';

const missing = [
  ...['skopeo', 'umoci', 'apt-get', 'dpkg'].filter((tool) => !requireTool(tool)),
  ...(existsSync(CHROMIUM) ? [] : ['chromium']),
];
if (missing.length > 0) {
  console.warn(
    `\n!!! SKIPPING console policy tests: missing ${missing.join(', ')} (apt-get install -y chromium) !!!\n`,
  );
}

const DOCS = process.env.BERTH_DOCS_SCREENSHOTS === '1';
const SHOTS = new URL(DOCS ? '../../docs/images/' : '../../test-results/console-policies/', import.meta.url);
const WEB_INDEX = new URL('../../dist/web/index.html', import.meta.url);
const ADMIN_PASSWORD = 'console admin password';
const GUEST_PASSWORD = 'guest password 1';
const TIMEOUT = 240_000;

type Berth = Awaited<ReturnType<typeof startBerth>>;

describe.skipIf(missing.length > 0)('project policies in the web console', () => {
  let berth: Berth;
  let browser: Browser;
  let page: Page;
  let busybox: Layout;
  const problems: string[] = [];
  /** shop/app's artifacts, oldest push first: tags 1, 2, 3, 4. */
  const digests: string[] = [];

  /** A small image of its own (a distinct config, no layers) pushed to shop/app:<tag> through the registry core. */
  async function pushSmall(tag: string): Promise<string> {
    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { tag } } }),
    );
    const digest = await pushConfigOnlyImage(berth.berth.registry, 'shop/app', tag, config);
    // Pushes a millisecond apart at least: retention orders by push time.
    const pushed = Date.now();
    while (Date.now() === pushed) await new Promise((resolve) => setTimeout(resolve, 1));
    return digest;
  }

  const skopeo = (args: string[]) => run('skopeo', ['--insecure-policy', ...args], { timeoutMs: 120_000 });
  const creds = `admin:${ADMIN_PASSWORD}`;

  /** A skopeo copy that must be refused; returns what skopeo said. */
  async function refused(args: string[]): Promise<string> {
    try {
      await skopeo(args);
    } catch (error) {
      if (error instanceof RunError) return `${error.message}\n${error.stderr}`;
      throw error;
    }
    throw new Error(`skopeo ${args.join(' ')} was not refused`);
  }

  beforeAll(async () => {
    if (!existsSync(WEB_INDEX)) await run('npm', ['run', 'build:web'], { timeoutMs: 120_000 });
    await mkdir(SHOTS, { recursive: true });
    busybox = await buildBusyboxLayout();
    berth = await startBerth({ config: { 'auth.enabled': true } });
    const { accounts } = berth.berth;
    await accounts.setPassword('admin', ADMIN_PASSWORD);
    await accounts.createUser({ username: 'gina', password: GUEST_PASSWORD });
    await accounts.createProject({ name: 'shop' });
    await accounts.setMember('shop', { kind: 'user', name: 'gina', role: 'guest' });
    for (const tag of ['1', '2', '3', '4']) digests.push(await pushSmall(tag));
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    // Leaving a page cancels its requests still going: navigation, not a failure.
    collectPageProblems(page, problems, { abortIsNavigation: true });
  }, TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    await berth?.close();
  });

  async function login(username: string, password: string): Promise<void> {
    await page.context().clearCookies();
    await page.goto(berth.url);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
  }

  /** A screenshot of the page (what the window shows), or of one part of it; each under 200 KB for the docs. */
  async function shot(name: string, part?: Locator): Promise<void> {
    const path = new URL(`${name}.png`, SHOTS).pathname;
    await (part ?? page).screenshot({ path });
    expect((await stat(path)).size).toBeLessThan(200 * 1024);
  }

  it(
    'refuses a push over a quota, a moved immutable tag, and dry-runs retention; a guest only reads',
    async () => {
      await login('admin', ADMIN_PASSWORD);
      await page.goto(`${berth.url}/projects/shop?tab=policies`);
      await page.getByRole('heading', { name: 'Policies' }).waitFor();

      // Quota: 100 kB, far below busybox's layer: skopeo's push is refused and leaves nothing behind; once the
      // quota is removed by clicking, the same push goes through.
      await page.getByLabel('Limit').fill('100KB');
      await page.getByRole('button', { name: 'Set quota' }).click();
      await page.getByTestId('quota-usage').getByText('of 97.7 KiB').waitFor();
      const pushBusybox = [
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        creds,
        `oci:${busybox.dir}:${busybox.tag}`,
        `docker://${berth.host}/shop/busybox:1.0`,
      ];
      const overQuota = await refused(pushBusybox);
      // The refusal comes at the first chunk, before skopeo has sent it all: it reads the 403 (DENIED, "over its
      // quota"), or finds the connection closed under its upload.
      expect(overQuota).toMatch(/quota|denied|broken pipe|connection reset/i);
      expect(await berth.berth.registry.meta.manifestByTag('shop/busybox', '1.0')).toBeUndefined();
      expect((await berth.berth.lifecycle.quota('shop')).usedBytes).toBeLessThan(100_000);
      await page.getByRole('button', { name: 'Remove quota' }).click();
      await expect.poll(() => page.getByTestId('quota-usage').textContent()).not.toContain(' of ');
      await skopeo(pushBusybox);
      expect((await berth.berth.registry.meta.manifestByTag('shop/busybox', '1.0'))?.digest).toBe(
        busybox.digest,
      );

      // Immutability: v* under shop/** — tagging v1 once is fine, moving it to another image is refused.
      await page.getByLabel('Tags', { exact: true }).fill('v*');
      await page.getByRole('button', { name: 'Add immutability rule' }).click();
      await page.getByTestId('immutability-rules').getByRole('cell', { name: 'v*', exact: true }).waitFor();
      const source = (tag: string) => `docker://${berth.host}/shop/app:${tag}`;
      const tls = [
        '--src-tls-verify=false',
        '--dest-tls-verify=false',
        '--src-creds',
        creds,
        '--dest-creds',
        creds,
      ];
      await skopeo(['copy', ...tls, source('1'), source('v1')]);
      const moved = await refused(['copy', ...tls, source('2'), source('v1')]);
      expect(moved).toMatch(/immutable/i);

      // Retention: keep the 2 latest pushed per repository of shop/**. The dry run would delete app:2 (app:1 is kept: it is
      // tagged v1, immutable) and deletes nothing.
      await page.getByLabel('Count', { exact: true }).fill('2');
      await page.getByRole('button', { name: 'Add retention rule' }).click();
      await page
        .getByTestId('retention-rules')
        .getByText('keep the 2 most recently pushed artifacts per repository of shop/**, tagged')
        .waitFor();
      await page.getByRole('button', { name: 'Dry run' }).click();
      const summary = page.getByTestId('retention-summary');
      await summary.waitFor({ timeout: 60_000 });
      expect(await summary.locator('p').first().textContent()).toMatch(
        /^Would delete 1 artifact of the 5 artifacts the rules cover; 3 kept by a rule, 1 by an immutable tag/,
      );
      const rows = (testId: string) =>
        page
          .getByTestId(testId)
          .locator('tbody tr')
          .evaluateAll((trs) =>
            trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
          );
      const short = (digest: string) => digest.slice('sha256:'.length, 'sha256:'.length + 12);
      expect(await rows('retention-deleted')).toEqual([['shop/app', '2', short(digests[1] as string), '0']]);
      expect(await rows('retention-immutable')).toEqual([
        ['shop/app', '1, v1', short(digests[0] as string), expect.stringMatching(/immutable/)],
      ]);
      await shot('console-retention-dry-run', page.locator('section[aria-labelledby="retention"]'));
      const left = await berth.berth.registry.meta.manifestByTag('shop/app', '2');
      expect(left?.digest).toBe(digests[1]);
      await page.goto(`${berth.url}/projects/shop?tab=policies`);
      await page.getByTestId('immutability-rules').getByRole('cell', { name: 'v*', exact: true }).waitFor();
      await shot('console-policies');

      // The default project lists its bare repositories (`busybox`, no `library/`), and they open.
      await skopeo([
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        creds,
        `oci:${busybox.dir}:${busybox.tag}`,
        `docker://${berth.host}/busybox:1.0`,
      ]);
      await page.goto(`${berth.url}/projects/library`);
      await page.getByRole('link', { name: 'busybox', exact: true }).click();
      await page.getByRole('heading', { name: 'Repository busybox' }).waitFor();
      await page.getByRole('cell', { name: '1.0', exact: true }).waitFor();

      // The main pages, for the docs.
      await page.goto(berth.url);
      await page.getByRole('row', { name: /shop/ }).getByText('private').waitFor();
      await page.waitForLoadState('networkidle');
      await shot('console-projects');
      await page.goto(`${berth.url}/projects/shop`);
      await page.getByRole('link', { name: 'shop/app' }).waitFor();
      await shot('console-repositories');
      await page.getByRole('link', { name: 'shop/app' }).click();
      await page.getByRole('cell', { name: '1, v1' }).waitFor();
      await page.waitForLoadState('networkidle');
      await shot('console-artifacts');
      await page.goto(`${berth.url}/projects/library/repositories/busybox/artifacts/${busybox.digest}`);
      await page.getByRole('heading', { name: 'Layers' }).waitFor();
      await shot('console-artifact');
      await page.goto(`${berth.url}/projects/shop?tab=members`);
      await page.getByRole('cell', { name: 'gina' }).waitFor();
      await shot('console-members');
      await page.goto(`${berth.url}/admin/gc`);
      await page.getByRole('button', { name: 'Start a dry run' }).waitFor();
      await page.waitForLoadState('networkidle');
      await shot('console-gc');
      await page.goto(`${berth.url}/admin/audit`);
      await page.getByTestId('audit-event').first().waitFor();
      await shot('console-audit');

      // A guest of shop: the policies read-only, nothing offered the server would refuse, no request refused.
      await login('gina', GUEST_PASSWORD);
      await page.goto(`${berth.url}/projects/shop?tab=policies`);
      await page.getByText('System administrators set quotas.').waitFor();
      await page
        .getByTestId('retention-rules')
        .getByText('keep the 2 most recently pushed artifacts per repository of shop/**, tagged')
        .waitFor();
      await page
        .getByText('Tag immutability rules are shown to maintainers and project administrators.')
        .waitFor();
      await page.getByRole('heading', { name: 'Signatures' }).waitFor();
      await page.waitForLoadState('networkidle');
      for (const name of ['Set quota', 'Add immutability rule', 'Add retention rule', 'Dry run', 'Delete']) {
        expect(await page.getByRole('button', { name }).count(), name).toBe(0);
      }
      expect(await page.getByRole('tab', { name: 'Members' }).count()).toBe(0);
      expect(await page.getByLabel('Scan images when they are pushed').isDisabled()).toBe(true);
      expect(problems).toEqual([]);
    },
    TIMEOUT,
  );
});
