// The console's administration and account pages in a real browser: Debian's chromium driven by playwright-core
// against a real Berth (token auth on) with single sign-on through a real OpenID Provider (oidc-provider).
// An administrator creates, searches, disables, promotes and (by keyboard) deletes users; makes a personal access
// token that skopeo logs in with, revokes it and skopeo is refused; downloads the audit log as CSV and JSON lines
// and parses them; sees the database and storage up on the health page. A single sign-on user makes a CLI secret
// that skopeo logs in with; once disabled, their next sign-on lands on the console's refusal page, in words.
// An ordinary user sees no administration. Any browser console error, page error, failed request or HTTP error
// answer from Berth fails the test. Screenshots go to test-results/console/, or with BERTH_DOCS_SCREENSHOTS=1 to
// docs/images/ (docs/console.md shows them).
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, run } from '../fixtures/image.js';
import { parseCsv } from '../helpers/csv.js';
import { startOpenIdProvider, type TestProvider } from '../helpers/openid-provider.js';
import { startBerth } from '../helpers/server.js';
import { CHROMIUM, collectPageProblems, launchChromium } from './chromium-page.js';

const missing = [...(requireTool('skopeo') ? [] : ['skopeo']), ...(existsSync(CHROMIUM) ? [] : ['chromium'])];
if (missing.length > 0) {
  console.warn(`\n!!! SKIPPING console administration browser tests: missing ${missing.join(', ')} !!!\n`);
}

const DOCS = process.env.BERTH_DOCS_SCREENSHOTS === '1';
const SHOTS = new URL(DOCS ? '../../docs/images/' : '../../test-results/console/', import.meta.url);
const WEB_INDEX = new URL('../../dist/web/index.html', import.meta.url);
const ADMIN_PASSWORD = 'console admin password';
const TIMEOUT = 240_000;

type Berth = Awaited<ReturnType<typeof startBerth>>;

describe.skipIf(missing.length > 0)('the console administration pages in chromium', () => {
  let berth: Berth;
  let op: TestProvider;
  let browser: Browser;
  let authDir: string;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(WEB_INDEX)) await run('npm', ['run', 'build:web'], { timeoutMs: 120_000 });
    await mkdir(SHOTS, { recursive: true });
    authDir = await mkdtemp(join(tmpdir(), 'berth-console-admin-'));
    op = await startOpenIdProvider();
    berth = await startBerth({
      config: {
        'auth.enabled': true,
        'auth.oidc.issuer': op.issuer,
        'auth.oidc.clientId': op.clientId,
        'auth.oidc.clientSecret': op.clientSecret,
        'auth.oidc.allowInsecureHttp': true,
      },
    });
    op.configure(`${berth.url}/api/v1/auth/oidc/callback`);
    op.accounts.set('sub-olga', { username: 'olga', groups: ['developers'] });
    await berth.berth.accounts.setPassword('admin', ADMIN_PASSWORD);
    browser = await launchChromium();
  }, TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    await berth?.close();
    await op?.close();
    if (authDir) await rm(authDir, { recursive: true, force: true });
  });

  /** A fresh browser context whose problems with Berth (not with the identity provider) are collected. */
  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({
      viewport: { width: 1400, height: 900 },
      acceptDownloads: true,
    });
    const page = await context.newPage();
    collectPageProblems(page, problems, { origin: berth.url, loadErrorsAsResponses: true });
    return { context, page };
  }

  async function passwordLogin(page: Page, username: string, password: string): Promise<void> {
    await page.goto(berth.url);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({
      path: new URL(`${DOCS ? 'console-' : ''}${name}.png`, SHOTS).pathname,
      fullPage: true,
    });

  /** `skopeo login` (the token endpoint with these credentials): whether it was let in. */
  async function skopeoLogin(username: string, secret: string): Promise<boolean> {
    return run('skopeo', [
      'login',
      '--tls-verify=false',
      '--authfile',
      join(authDir, 'auth.json'),
      '--username',
      username,
      '--password',
      secret,
      berth.host,
    ]).then(
      () => true,
      (error: Error) => {
        expect(error.message).toMatch(/401|unauthorized|invalid username\/password/i);
        return false;
      },
    );
  }

  it(
    'users, personal access tokens with skopeo, audit export, system health; single sign-on CLI secret and refusal',
    async () => {
      const { context, page } = await newPage();
      await passwordLogin(page, 'admin', ADMIN_PASSWORD);

      // --- users ---
      await page.getByRole('link', { name: 'Users' }).click();
      await page.getByRole('heading', { name: 'Users' }).waitFor();
      const newUser = page.getByRole('form', { name: 'New user' });
      for (const [username, email] of [
        ['carol', 'carol@example.com'],
        ['temp', ''],
      ] as const) {
        await newUser.getByLabel('Username').fill(username);
        await newUser.getByLabel('Password').fill('carol password 1');
        await newUser.getByLabel('E-mail').fill(email);
        await newUser.getByRole('button', { name: 'Create user' }).click();
        await page.getByRole('status').getByText(`Created ${username}.`).waitFor();
      }
      await page.getByLabel('Search').fill('EXAMPLE.com');
      await expect
        .poll(() => page.getByTestId('user-row').allTextContents())
        .toEqual([expect.stringContaining('carol@example.com')]);
      const carol = page.getByRole('row', { name: /carol/ });
      await carol.getByRole('button', { name: 'Disable carol' }).click();
      await carol.getByRole('cell', { name: 'disabled' }).waitFor();
      expect(await skopeoLogin('carol', 'carol password 1')).toBe(false);
      await carol.getByRole('button', { name: 'Enable carol' }).click();
      await carol.getByRole('cell', { name: 'enabled' }).waitFor();
      await carol.getByRole('button', { name: 'Make administrator: carol' }).click();
      await carol.getByRole('cell', { name: 'system administrator' }).waitFor();
      await carol.getByRole('button', { name: 'Revoke administration from carol' }).click();
      await carol.getByRole('cell', { name: 'user', exact: true }).waitFor();
      expect(await skopeoLogin('carol', 'carol password 1')).toBe(true);
      // Deleting by keyboard: the confirmation takes the focus, Enter confirms.
      await page.getByLabel('Search').fill('');
      await page.getByRole('button', { name: 'Delete temp' }).focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator(':focus').textContent()).toBe('Delete temp for good');
      await page.keyboard.press('Enter');
      await page.getByRole('row', { name: /temp/ }).waitFor({ state: 'detached' });
      await expect.poll(() => page.getByTestId('user-row').count()).toBe(2);
      await shot(page, 'users');

      // --- personal access tokens: skopeo logs in with one, and is refused once it is revoked ---
      await page.getByRole('link', { name: 'Your account (admin)' }).click();
      await page.getByRole('heading', { name: 'Personal access tokens' }).waitFor();
      const newToken = page.getByRole('form', { name: 'New token' });
      await newToken.getByLabel('Token name').fill('ci');
      await newToken.getByLabel('Expires').selectOption({ label: 'in 30 days' });
      await newToken.getByRole('button', { name: 'Create token' }).click();
      const secret = (await page.getByTestId('shown-secret').textContent()) ?? '';
      expect(secret).toMatch(/^berth_/);
      await page.getByRole('button', { name: `Copy secret: ${secret}` }).waitFor();
      await page.getByTestId('token-row').getByText('ci', { exact: true }).waitFor();
      await shot(page, 'account');
      expect(await skopeoLogin('admin', secret)).toBe(true);
      await page.getByRole('button', { name: 'Done' }).click();
      expect(await page.getByTestId('shown-secret').count()).toBe(0);
      await page.getByRole('button', { name: 'Revoke token ci' }).click();
      await page.getByTestId('token-row').waitFor({ state: 'detached' });
      expect(await skopeoLogin('admin', secret)).toBe(false);

      // --- audit export: what the filters select, downloaded and parsed ---
      await page.getByRole('link', { name: 'Audit log' }).click();
      await page.getByLabel('Action').fill('user.create');
      await page.getByRole('button', { name: 'Search' }).click();
      // The filtered list: only the two creations (the unfiltered one also shows temp's deletion).
      await expect
        .poll(() => page.getByTestId('audit-event').locator('td:nth-child(4)').allTextContents())
        .toEqual(['user:temp', 'user:carol']);
      const [csvDownload] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'Export CSV' }).click(),
      ]);
      expect(csvDownload.suggestedFilename()).toMatch(/^berth-audit-.*\.csv$/);
      const [header, ...rows] = parseCsv(await readFile((await csvDownload.path()) as string, 'utf8'));
      expect(header?.slice(0, 3)).toEqual(['id', 'time', 'actor']);
      expect(rows.map((row) => [row[2], row[6], row[7], row[8]])).toEqual([
        ['admin', 'user.create', 'user:temp', 'success'],
        ['admin', 'user.create', 'user:carol', 'success'],
      ]);
      const [jsonDownload] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'Export JSON lines' }).click(),
      ]);
      const lines = (await readFile((await jsonDownload.path()) as string, 'utf8')).trimEnd().split('\n');
      expect(lines.map((line) => (JSON.parse(line) as { resource: string }).resource)).toEqual([
        'user:temp',
        'user:carol',
      ]);
      await shot(page, 'audit-export');

      // --- system health ---
      await page.getByRole('link', { name: 'System health' }).click();
      await page.getByTestId('check-metadata').getByRole('cell', { name: 'up', exact: true }).waitFor();
      await page.getByTestId('check-storage').getByRole('cell', { name: 'up', exact: true }).waitFor();
      expect(await page.getByTestId('health-status').textContent()).toMatch(/^Ready/);
      expect(await page.getByTestId('version').textContent()).toMatch(/^Berth \d+\.\d+\.\d+/);
      await page.getByTestId('storage-total').waitFor();
      await page.getByTestId('last-gc').getByText('Never run.').waitFor();
      await shot(page, 'health');
      await context.close();

      // --- an ordinary user: no administration offered, none reachable ---
      const plain = await newPage();
      await passwordLogin(plain.page, 'carol', 'carol password 1');
      expect(await plain.page.getByRole('link', { name: 'Users' }).count()).toBe(0);
      expect(await plain.page.getByRole('link', { name: 'System health' }).count()).toBe(0);
      await plain.page.goto(`${berth.url}/admin/users`);
      await plain.page.getByText('No such page.').waitFor();
      await plain.context.close();

      // --- single sign-on: the CLI secret, then a refusal shown in words ---
      const sso = await newPage();
      op.signInAs('sub-olga');
      await sso.page.goto(berth.url);
      await sso.page.getByRole('link', { name: 'Sign in with single sign-on' }).click();
      await sso.page.getByRole('heading', { name: 'Projects' }).waitFor();
      await sso.page.getByRole('link', { name: 'Your account (olga)' }).click();
      await sso.page.getByTestId('cli-secret-state').getByText('You have no CLI secret.').waitFor();
      await sso.page.getByRole('button', { name: 'Make a CLI secret' }).click();
      const cliSecret = (await sso.page.getByTestId('shown-secret').textContent()) ?? '';
      expect(cliSecret).toMatch(/^berth_/);
      await sso.page
        .getByTestId('cli-secret-state')
        .getByText(/^Made /)
        .waitFor();
      await shot(sso.page, 'account-oidc');
      expect(await skopeoLogin('olga', cliSecret)).toBe(true);
      await sso.page.getByRole('button', { name: 'Revoke the CLI secret' }).click();
      await sso.page.getByTestId('cli-secret-state').getByText('You have no CLI secret.').waitFor();
      expect(await skopeoLogin('olga', cliSecret)).toBe(false);
      await sso.page.getByRole('button', { name: 'Log out' }).click();
      await sso.page.getByRole('button', { name: 'Log in' }).waitFor();

      await berth.berth.accounts.updateUser('olga', { disabled: true });
      op.signInAs('sub-olga');
      await sso.page.getByRole('link', { name: 'Sign in with single sign-on' }).click();
      await sso.page.getByRole('heading', { name: 'Sign-on refused' }).waitFor();
      expect(new URL(sso.page.url()).pathname).toBe('/sign-in/refused');
      expect(await sso.page.getByTestId('refusal').textContent()).toBe(
        'Your Berth account is disabled. Ask an administrator to enable it.',
      );
      expect(await sso.page.content()).not.toContain('"errors"');
      await shot(sso.page, 'sign-in-refused');
      await sso.context.close();

      expect(problems).toEqual([]);
    },
    TIMEOUT,
  );
});
