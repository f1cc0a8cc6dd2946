// The console's long lists in a real browser (Debian's chromium, playwright-core) against a real Berth holding
// 100,000 repositories in one project, 100,000 tagged artifacts in one repository, and one artifact with 100,000
// tags. The rows are bulk-inserted into Berth's metadata database (SQLite) through its own Kysely handle: 300,000
// pushes would measure the push path, not the console. Not run under the postgres project: the console is the
// same, the listings' PostgreSQL plans at this size are measured by `npm run bench -- --only=listings`, and
// seeding 300,000 rows into the shared test PostgreSQL took from 30 s to over 14 minutes under other suites' load. Each page
// asks the server for one keyset page and draws at most 100 rows (an artifact's tags beyond ten are counted), so
// nothing needs virtualizing; the test asserts the rows drawn and the totals, and reports the times (navigation
// to the rows drawn) in test-results/console-scale/scale.json (BENCHMARKS.md). Any browser console error, page
// error, failed request or HTTP error answer fails the test.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import type { Kysely } from 'kysely';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/metadata/index.js';
import { run } from '../fixtures/image.js';
import { testMetadata } from '../helpers/postgres.js';
import { startBerth, type TestBerth } from '../helpers/server.js';
import { CHROMIUM, collectPageProblems, launchChromium } from './chromium-page.js';

const missing = existsSync(CHROMIUM) ? [] : ['chromium'];
if (missing.length > 0)
  console.warn(`\n!!! SKIPPING console scale browser tests: missing ${missing.join(', ')} !!!\n`);

/**
 * What the functions run inside the page use of the browser's globals (this test tree compiles without the
 * DOM library; the functions are serialized and run in chromium, where these exist).
 */
interface PageElement {
  textContent: string | null;
  value: string;
  click(): void;
  dispatchEvent(event: unknown): boolean;
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
};
type HTMLInputElement = PageElement;

const SHOTS = new URL('../../test-results/console-scale/', import.meta.url);
const WEB_INDEX = new URL('../../dist/web/index.html', import.meta.url);
const ADMIN_PASSWORD = 'console scale password';
const COUNT = 100_000;
const BATCH = 1000;
const TIMEOUT = 300_000;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const EMPTY = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
};

const pad = (i: number) => String(i).padStart(6, '0');

function manifest(label: string): { digest: string; content: Buffer } {
  const content = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: EMPTY,
      layers: [],
      annotations: { 'org.example.build': label },
    }),
  );
  return { digest: `sha256:${createHash('sha256').update(content).digest('hex')}`, content };
}

async function inBatches<T>(items: T[], write: (batch: T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += BATCH) await write(items.slice(i, i + BATCH));
}

/**
 * `count` repositories `<project>/app-NNNNNN`; each 100th holds one artifact tagged `latest`, so the listing's
 * per-row counts read real rows (and the seeding stays a few seconds).
 */
async function seedRepositories(db: Kysely<Database>, project: string, count: number): Promise<void> {
  const now = Date.now();
  const latest = manifest('latest');
  const names = Array.from({ length: count }, (_, i) => `${project}/app-${pad(i)}`);
  await db.transaction().execute(async (trx) => {
    await inBatches(names, async (batch) => {
      const rows = await trx
        .insertInto('repositories')
        .values(batch.map((name) => ({ name, created_at: now })))
        .returning(['id', 'name'])
        .execute();
      const tagged = rows.filter((row) => row.name.endsWith('00'));
      await trx
        .insertInto('manifests')
        .values(
          tagged.map(({ id }) => ({
            repository_id: id,
            digest: latest.digest,
            media_type: OCI_MANIFEST,
            size: latest.content.length,
            content: latest.content,
            subject: null,
            artifact_type: null,
            annotations: null,
            created_at: now,
          })),
        )
        .execute();
      await trx
        .insertInto('tags')
        .values(
          tagged.map(({ id }) => ({
            repository_id: id,
            name: 'latest',
            manifest_digest: latest.digest,
            updated_at: now,
          })),
        )
        .execute();
    });
  });
}

/**
 * A repository of `artifacts` artifacts pushed a second apart, with `tagsEach` tags each (`t-NNNNNN` when one,
 * else `<artifact>-NNNNNN`).
 */
async function seedTags(
  db: Kysely<Database>,
  repository: string,
  artifacts: number,
  tagsEach: number,
): Promise<void> {
  const base = Date.now() - artifacts * 1000;
  const made = Array.from({ length: artifacts }, (_, i) => ({
    ...manifest(`${repository}-${i}`),
    at: base + i * 1000,
  }));
  await db.transaction().execute(async (trx) => {
    const { id } = await trx
      .insertInto('repositories')
      .values({ name: repository, created_at: base })
      .returning('id')
      .executeTakeFirstOrThrow();
    await inBatches(made, (batch) =>
      trx
        .insertInto('manifests')
        .values(
          batch.map((m) => ({
            repository_id: id,
            digest: m.digest,
            media_type: OCI_MANIFEST,
            size: m.content.length,
            content: m.content,
            subject: null,
            artifact_type: null,
            annotations: null,
            created_at: m.at,
          })),
        )
        .execute(),
    );
    const tags = made.flatMap((m, i) =>
      Array.from({ length: tagsEach }, (_, k) => ({
        repository_id: id,
        name: tagsEach === 1 ? `t-${pad(i)}` : `v-${pad(k)}`,
        manifest_digest: m.digest,
        updated_at: m.at,
      })),
    );
    await inBatches(tags, (batch) => trx.insertInto('tags').values(batch).execute());
  });
}

describe.skipIf(missing.length > 0 || testMetadata === 'postgres')(
  'console lists of 100,000 in chromium',
  () => {
    let berth: TestBerth;
    let browser: Browser;
    let page: Page;
    const problems: string[] = [];
    const times: Record<string, number> = {};
    /** Requests for one artifact's signature status (one per row the artifacts page asks details of). */
    const details = { count: 0 };

    beforeAll(async () => {
      if (!existsSync(WEB_INDEX)) await run('npm', ['run', 'build:web'], { timeoutMs: 120_000 });
      await mkdir(SHOTS, { recursive: true });
      berth = await startBerth({ config: { 'auth.enabled': true } });
      const { accounts, registry } = berth.berth;
      await accounts.setPassword('admin', ADMIN_PASSWORD);
      await accounts.createProject({ name: 'big' });
      await accounts.createProject({ name: 'tags' });
      const started = Date.now();
      await seedRepositories(registry.meta.db, 'big', COUNT);
      await seedTags(registry.meta.db, 'tags/many', COUNT, 1);
      await seedTags(registry.meta.db, 'tags/one', 1, COUNT);
      times.seedMs = Date.now() - started;
      browser = await launchChromium();
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      page = await context.newPage();
      collectPageProblems(page, problems, { abortIsNavigation: true });
      page.on('request', (request) => {
        if (/\/artifacts\/sha256[^/]*$/.test(request.url())) details.count++;
      });
      await page.goto(berth.url);
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'Projects' }).waitFor();
      await page.waitForLoadState('networkidle');
    }, TIMEOUT);

    afterAll(async () => {
      await browser?.close();
      await berth?.close();
    });

    /**
     * Milliseconds, measured in the browser, from `start` (a navigation: its start; else the moment `start` ran in
     * the page) until `text` is drawn in the main region. The Berth under test shares this process with the
     * playwright client, so times taken here would include the server's turns on the event loop.
     */
    async function timed(name: string, start: string | (() => number), text: string): Promise<void> {
      let began = 0;
      if (typeof start === 'string') await page.goto(start, { waitUntil: 'commit' });
      else began = await page.evaluate(start);
      const drawn = await page.waitForFunction(
        (wanted) => (document.querySelector('main')?.textContent?.includes(wanted) ? performance.now() : 0),
        text,
        { polling: 'raf', timeout: 60_000 },
      );
      times[name] = Math.round((await drawn.jsonValue()) - began);
    }

    /** Clicks the "Next page" button in the page; returns when it did. */
    const nextPage = () => {
      const button = [...document.querySelectorAll('button')].find((b) => b.textContent === 'Next page');
      const now = performance.now();
      button?.click();
      return now;
    };

    const rows = () => page.locator('main table tbody tr').count();

    it(
      'pages, searches and draws at most a page of 100,000 repositories, tagged artifacts, and tags of one artifact',
      async () => {
        // --- 100,000 repositories ---
        await timed('repositoriesFirstPageMs', `${berth.url}/projects/big`, 'big/app-000099');
        await page.getByTestId('repository-total').getByText('100,000 repositories').waitFor();
        expect(await rows()).toBe(100);
        await timed('repositoriesNextPageMs', nextPage, 'big/app-000199');
        expect(await rows()).toBe(100);
        await timed(
          'repositoriesSearchMs',
          () => {
            const input = document.querySelector('input[type=search]') as HTMLInputElement;
            const now = performance.now();
            input.value = 'app-09999';
            input.dispatchEvent(new Event('input', { bubbles: true }));
            return now;
          },
          '10 repositories',
        );
        expect(await rows()).toBe(10);
        await page.waitForLoadState('networkidle');

        // --- 100,000 tagged artifacts in one repository: 50 a page, newest first ---
        details.count = 0;
        await timed('artifactsFirstPageMs', `${berth.url}/projects/tags/repositories/many`, 't-099950');
        expect(await rows()).toBe(50);
        // Details (signature, vulnerabilities) only of the rows near the viewport, not of all 50.
        await page.getByRole('row').nth(1).getByRole('cell', { name: 'unsigned' }).waitFor();
        await page.waitForLoadState('networkidle');
        times.artifactRowsDetailed = details.count;
        expect(details.count).toBeGreaterThan(0);
        expect(details.count).toBeLessThan(50);
        expect(await page.getByTestId('tags').first().textContent()).toBe('t-099999');
        await page.waitForLoadState('networkidle');
        await timed('artifactsNextPageMs', nextPage, 't-099900');
        expect(await rows()).toBe(50);
        await page.waitForLoadState('networkidle');

        // --- one artifact with 100,000 tags: ten drawn, the rest counted ---
        await timed(
          'oneArtifactManyTagsMs',
          `${berth.url}/projects/tags/repositories/one`,
          'and 99,990 more',
        );
        expect(await rows()).toBe(1);
        expect(await page.getByTestId('tags').textContent()).toBe(
          `${Array.from({ length: 10 }, (_, k) => `v-${pad(k)}`).join(', ')} and 99,990 more`,
        );
        await page.waitForLoadState('networkidle');

        expect(problems).toEqual([]);
        await writeFile(new URL('scale.json', SHOTS), JSON.stringify({ count: COUNT, ...times }, null, 2));
        console.log(`console scale (${COUNT.toLocaleString('en')} rows): ${JSON.stringify(times)}`);
      },
      TIMEOUT,
    );
  },
);
