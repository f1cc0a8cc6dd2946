// Retention over HTTP: a project's policy "keep the last 2 pushed, and anything pulled within 30 days" is set
// and previewed (a dry run lists exactly what would go and deletes nothing), then run: exactly that goes, with
// its referrers; immutable tags keep their artifacts (and say so); an index's children stay for garbage
// collection; other projects are untouched; the history shows the runs; a run while one runs is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthorization } from '../../src/auth/index.js';
import {
  type BuiltImage,
  buildArtifact,
  buildImage,
  buildIndex,
  type Descriptor,
  OciClient,
  sleep,
} from '../helpers/oci-client.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

const ADMIN = basicAuthorization('admin', 'retention admin password');

let server: TestBerth;
let client: OciClient;

interface Run {
  id: number;
  project: string;
  trigger: string;
  dryRun: boolean;
  status: string;
  requestedBy: string | null;
  summary: {
    dryRun: boolean;
    artifacts: number;
    retained: number;
    untouched: number;
    deleted: {
      total: number;
      items: { repository: string; digest: string; tags: string[]; referrers?: string[] }[];
    };
    referrersDeleted: number;
    keptByImmutability: { total: number; items: { repository: string; digest: string; reason?: string }[] };
    skipped: { total: number; items: unknown[] };
  } | null;
  error: string | null;
}

async function api(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: ADMIN, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
}

async function json<T>(response: Response, status: number): Promise<T> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  return JSON.parse(text) as T;
}

/** Starts a run and polls it until it ends. */
async function runToEnd(project: string, dryRun: boolean): Promise<Run> {
  let run = await json<Run>(await api('POST', `/projects/${project}/retention/runs`, { dryRun }), 202);
  expect(run).toMatchObject({ project, trigger: 'manual', dryRun, status: 'running', requestedBy: 'admin' });
  while (run.status === 'running') {
    await sleep(20);
    run = await json<Run>(await api('GET', `/projects/${project}/retention/runs/${run.id}`), 200);
  }
  return run;
}

const descriptor = (image: { digest: string; manifest: Buffer; mediaType: string }): Descriptor => ({
  mediaType: image.mediaType,
  digest: image.digest,
  size: image.manifest.length,
});

async function present(repo: string, digest: string): Promise<boolean> {
  const res = await client.head(`/v2/${repo}/manifests/${digest}`, {
    accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json',
  });
  return res.status === 200;
}

/** Pushes an image under a tag (or by digest), a few milliseconds after the previous push. */
async function push(repo: string, tag?: string): Promise<BuiltImage> {
  await sleep(3);
  const image = buildImage({ layers: 1, layerSize: 64 });
  return client.pushImage(repo, image, tag ?? image.digest);
}

/** Records the pull times the registry buffers. */
async function flushPulls(): Promise<void> {
  await server.berth.registry.pulls.flush();
}

beforeAll(async () => {
  server = await startBerth();
  client = new OciClient(server.url);
  await server.berth.accounts.setPassword('admin', 'retention admin password');
  for (const name of ['keep', 'other', 'busy']) await server.berth.accounts.createProject({ name });
});
afterAll(() => server?.close());

describe('keep the last 2 pushed, and anything pulled within 30 days', () => {
  const app = 'keep/app';
  const lib = 'keep/lib';
  const pushed: Record<string, BuiltImage> = {};
  let index: { digest: string };
  let children: BuiltImage[];
  let signature: { digest: string };
  let sbom: { digest: string };
  let otherImage: BuiltImage;
  let expectedDeleted: { repository: string; digest: string; tags: string[]; referrers?: string[] }[];

  beforeAll(async () => {
    // keep/app, oldest first: a two-platform index, v1 (signed, the signature with an SBOM of its own), v2
    // (pulled), v3, an untagged image pulled by digest, an untagged one never pulled, v4, v5.
    children = [await push(app), await push(app)];
    const built = buildIndex(children.map(descriptor));
    await sleep(3);
    await client.putManifest(app, 'multi', built.manifest, built.mediaType);
    index = built;
    pushed.v1 = await push(app, 'v1');
    const sig = buildArtifact({
      artifactType: 'application/vnd.dev.cosign.signature',
      subject: descriptor(pushed.v1),
    });
    await client.pushArtifact(app, sig);
    signature = sig;
    const bom = buildArtifact({ artifactType: 'application/spdx+json', subject: descriptor(sig) });
    await client.pushArtifact(app, bom);
    sbom = bom;
    pushed.v2 = await push(app, 'v2');
    pushed.v3 = await push(app, 'v3');
    pushed.pinned = await push(app);
    pushed.dangling = await push(app);
    pushed.v4 = await push(app, 'v4');
    pushed.v5 = await push(app, 'v5');
    // keep/lib: lib1 is immutable; lib3 and lib4 are the last two.
    for (const tag of ['lib1', 'lib2', 'lib3', 'lib4']) pushed[tag] = await push(lib, tag);
    const rule = await api('POST', '/projects/keep/immutability', {
      repositoryPattern: 'keep/lib',
      tagPattern: 'lib1',
    });
    expect(rule.status).toBe(201);
    otherImage = await push('other/app', 'old');

    // Pulled through the real GET path: v2 by tag, the pinned one by digest.
    for (const reference of ['v2', pushed.pinned?.digest as string]) {
      const res = await client.get(`/v2/${app}/manifests/${reference}`, {
        accept: 'application/vnd.oci.image.manifest.v1+json',
      });
      await res.arrayBuffer();
      expect(res.status).toBe(200);
    }
    await flushPulls();

    expectedDeleted = [
      { repository: app, digest: index.digest, tags: ['multi'] },
      {
        repository: app,
        digest: pushed.v1?.digest as string,
        tags: ['v1'],
        referrers: [signature.digest, sbom.digest],
      },
      { repository: app, digest: pushed.v3?.digest as string, tags: ['v3'] },
      { repository: app, digest: pushed.dangling?.digest as string, tags: [] },
      { repository: lib, digest: pushed.lib2?.digest as string, tags: ['lib2'] },
    ];
  });

  it('sets the policy and its schedule, and shows them', async () => {
    const set = await json<Record<string, unknown>>(
      await api('PUT', '/projects/keep/retention', {
        rules: [
          { keep: 'latestPushed', count: 2 },
          { keep: 'pulledWithin', days: 30, untagged: true },
        ],
        schedule: '0 3 * * *',
      }),
      200,
    );
    expect(set).toMatchObject({
      project: 'keep',
      schedule: '0 3 * * *',
      rules: [
        {
          keep: 'latestPushed',
          count: 2,
          repositories: '**',
          tags: { pattern: '**', match: 'matching' },
          untagged: false,
        },
        { keep: 'pulledWithin', days: 30, repositories: '**', untagged: true },
      ],
    });
    expect(new Date(set.nextRunAt as number).toISOString()).toMatch(/T03:00:00\.000Z$/);
    expect(await json(await api('GET', '/projects/keep/retention'), 200)).toEqual(set);
  });

  it('refuses a bad policy with the OCI error format', async () => {
    const bad = await json<{ errors: { code: string; message: string }[] }>(
      await api('PUT', '/projects/keep/retention', { rules: [], schedule: 'at dawn' }),
      400,
    );
    expect(bad.errors[0]?.code).toBe('INVALID_REQUEST');
    expect(bad.errors[0]?.message).toMatch(/schedule: invalid cron expression 'at dawn'/);
    const missing = await json<{ errors: { code: string }[] }>(
      await api('GET', '/projects/nope/retention'),
      404,
    );
    expect(missing.errors[0]?.code).toBe('NOT_FOUND');
  });

  /** What both runs report: the dry run would do exactly what the real one does. */
  function expectedSummary(dryRun: boolean) {
    return {
      dryRun,
      rules: 2,
      artifacts: 12,
      retained: 6,
      untouched: 0,
      deleted: { total: 5, items: expectedDeleted },
      referrersDeleted: 2,
      keptByImmutability: {
        total: 1,
        items: [
          {
            repository: lib,
            digest: pushed.lib1?.digest,
            tags: ['lib1'],
            reason: expect.stringMatching(
              /^manifest sha256:[0-9a-f]{64} cannot be deleted: tag lib1 of keep\/lib is immutable \(rule \d+: repository "keep\/lib", tag "lib1"\)$/,
            ),
          },
        ],
      },
      skipped: { total: 0, items: [] },
    };
  }

  const everything = () => [
    ...Object.entries(pushed).map(
      ([name, image]) => [name.startsWith('lib') ? lib : app, image.digest] as const,
    ),
    [app, index.digest] as const,
    [app, signature.digest] as const,
    [app, sbom.digest] as const,
    ...children.map((child) => [app, child.digest] as const),
  ];

  it('previews: a dry run lists exactly what would go, and deletes nothing', async () => {
    const run = await runToEnd('keep', true);
    expect(run).toMatchObject({ status: 'succeeded', error: null });
    expect(run.summary).toEqual(expectedSummary(true));
    for (const [repo, digest] of everything())
      expect(await present(repo, digest), `${repo}@${digest}`).toBe(true);
    expect((await client.tags(app)).sort()).toEqual(['multi', 'v1', 'v2', 'v3', 'v4', 'v5']);
  });

  it('runs: deletes exactly that, with the referrers; immutable tags and index children stay', async () => {
    const run = await runToEnd('keep', false);
    expect(run).toMatchObject({ status: 'succeeded', error: null, dryRun: false });
    expect(run.summary).toEqual(expectedSummary(false));

    const gone = new Set([...expectedDeleted.map((item) => item.digest), signature.digest, sbom.digest]);
    for (const [repo, digest] of everything()) {
      expect(await present(repo, digest), `${repo}@${digest}`).toBe(!gone.has(digest));
    }
    expect((await client.tags(app)).sort()).toEqual(['v2', 'v4', 'v5']);
    expect((await client.tags(lib)).sort()).toEqual(['lib1', 'lib3', 'lib4']);
    for (const tag of ['multi', 'v1', 'v3']) {
      expect((await client.head(`/v2/${app}/manifests/${tag}`)).status, tag).toBe(404);
    }
    // The referrers API of the deleted subject is empty; the index's children are left for garbage collection.
    const referrers = await client.get(`/v2/${app}/referrers/${pushed.v1?.digest}`);
    expect(((await referrers.json()) as { manifests: unknown[] }).manifests).toEqual([]);
    for (const child of children) expect(await present(app, child.digest)).toBe(true);
    // Another project is none of this policy's business.
    expect(await present('other/app', otherImage.digest)).toBe(true);
  });

  it('a second run finds nothing more to delete but the orphaned index children (now untagged artifacts)', async () => {
    const run = await runToEnd('keep', true);
    expect(run.summary?.deleted.items.map((item) => item.digest).sort()).toEqual(
      children.map((child) => child.digest).sort(),
    );
    expect(run.summary?.keptByImmutability.total).toBe(1);
  });

  it('shows the runs in the history, newest first, a page at a time', async () => {
    const all = await json<{ items: Run[]; next?: string }>(
      await api('GET', '/projects/keep/retention/runs'),
      200,
    );
    expect(all.next).toBeUndefined();
    expect(all.items.map((run) => [run.dryRun, run.status, run.trigger])).toEqual([
      [true, 'succeeded', 'manual'],
      [false, 'succeeded', 'manual'],
      [true, 'succeeded', 'manual'],
    ]);
    const first = await api('GET', '/projects/keep/retention/runs?limit=2');
    expect(first.headers.get('link')).toBe(
      `</api/v1/projects/keep/retention/runs?limit=2&cursor=${all.items[1]?.id}>; rel="next"`,
    );
    const page = await json<{ items: Run[]; next?: string }>(first, 200);
    expect(page.items.map((run) => run.id)).toEqual(all.items.slice(0, 2).map((run) => run.id));
    expect(page.next).toBe(String(all.items[1]?.id));
    const rest = await json<{ items: Run[]; next?: string }>(
      await api('GET', `/projects/keep/retention/runs?limit=2&cursor=${page.next}`),
      200,
    );
    expect(rest).toEqual({ items: [all.items[2]] });
    const missing = await json<{ errors: { code: string }[] }>(
      await api('GET', `/projects/other/retention/runs/${all.items[0]?.id}`),
      404,
    );
    expect(missing.errors[0]?.code).toBe('NOT_FOUND');
  });
});

describe('one run at a time', () => {
  it('refuses a run while one runs for the project (409 CONFLICT), anywhere on the database', async () => {
    await push('busy/app', 'x');
    // A run of another process, alive: its row is the lock.
    const other = await server.berth.registry.meta.db
      .insertInto('job_runs')
      .values({
        kind: 'retention',
        scope: 'busy',
        trigger: 'manual',
        dry_run: 0,
        status: 'running',
        started_at: Date.now(),
        heartbeat_at: Date.now(),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const refused = await json<{ errors: { code: string; message: string }[] }>(
      await api('POST', '/projects/busy/retention/runs', { dryRun: false }),
      409,
    );
    expect(refused.errors).toEqual([
      { code: 'CONFLICT', message: "retention of project 'busy' is running already" },
    ]);
    // Two at once: one starts; the other is refused, or starts if the first was done already (it is quick).
    // Either way, never an error of the lock itself.
    await server.berth.registry.meta.db
      .updateTable('job_runs')
      .set({ status: 'succeeded', finished_at: Date.now() })
      .where('id', '=', Number(other.id))
      .execute();
    const both = await Promise.all([
      api('POST', '/projects/busy/retention/runs', { dryRun: true }),
      api('POST', '/projects/busy/retention/runs', { dryRun: true }),
    ]);
    const statuses = both.map((res) => res.status).sort();
    expect(statuses[0]).toBe(202);
    expect([202, 409]).toContain(statuses[1]);
    for (const res of both) await res.arrayBuffer();
    for (;;) {
      const runs = await json<{ items: Run[] }>(await api('GET', '/projects/busy/retention/runs'), 200);
      if (runs.items.every((run) => run.status !== 'running')) break;
      await sleep(20);
    }
  });
});
