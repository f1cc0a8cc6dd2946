// Tag moves and re-pushes of a manifest the repository already holds (issue 17): on PostgreSQL one statement
// moves the tag (no transaction, no reference sizes read again), and a push that changes nothing writes
// nothing and tells no other node — but answers exactly as a first push does. Runs on both databases; the
// two-node part (one PostgreSQL database, two in-process Berths whose caches hear each other by LISTEN/NOTIFY)
// runs on PostgreSQL only.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../fault/support.js';
import { type BuiltImage, buildImage, expectOciError, OciClient, uniqueRepo } from '../helpers/oci-client.js';
import { createTestDatabase, dropTestDatabase, testMetadata } from '../helpers/postgres.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** The headers a manifest PUT answers with (those a client reads). */
function putHeaders(res: Response) {
  return {
    status: res.status,
    location: res.headers.get('location'),
    digest: res.headers.get('docker-content-digest'),
    length: res.headers.get('content-length'),
  };
}

async function tagRow(server: TestBerth, repo: string, tag: string) {
  return server.berth.registry.meta.db
    .selectFrom('tags as t')
    .innerJoin('repositories as r', 'r.id', 't.repository_id')
    .select(['t.manifest_digest', 't.updated_at'])
    .where('r.name', '=', repo)
    .where('t.name', '=', tag)
    .executeTakeFirst();
}

async function digestOn(client: OciClient, repo: string, tag: string): Promise<string | null> {
  const res = await client.head(`/v2/${repo}/manifests/${tag}`, { accept: OCI_MANIFEST });
  return res.status === 200 ? res.headers.get('docker-content-digest') : null;
}

describe(`tag moves and re-pushes (${testMetadata})`, () => {
  let server: TestBerth;
  let client: OciClient;

  beforeAll(async () => {
    server = await startBerth();
    client = new OciClient(server.url);
    await server.berth.accounts.createProject({ name: 'moves' });
  });
  afterAll(() => server?.close());

  it('a re-push of the manifest under the tag already on it answers 201 with the same headers and writes nothing', async () => {
    const repo = uniqueRepo('moves');
    const image = await client.pushImage(repo, buildImage());
    const first = putHeaders(await client.putManifest(repo, 'v1', image.manifest, image.mediaType));
    const before = await tagRow(server, repo, 'v1');
    expect(before?.manifest_digest).toBe(image.digest);
    const manifests = await server.berth.registry.meta.db.selectFrom('manifests').select('digest').execute();

    for (let i = 0; i < 3; i++) {
      const again = putHeaders(await client.putManifest(repo, 'v1', image.manifest, image.mediaType));
      expect(again).toEqual(first);
      expect(again).toEqual({
        status: 201,
        location: `/v2/${repo}/manifests/${image.digest}`,
        digest: image.digest,
        length: '0',
      });
    }
    // Not rewritten: the tag row keeps its time (the console's "last tag move"), and no manifest row was added.
    expect(await tagRow(server, repo, 'v1')).toEqual(before);
    expect(
      await server.berth.registry.meta.db.selectFrom('manifests').select('digest').execute(),
    ).toHaveLength(manifests.length);
    // By digest too: 201, nothing new.
    const byDigest = await client.putManifest(repo, image.digest, image.manifest, image.mediaType);
    expect(putHeaders(byDigest)).toEqual(first);
    expect(await digestOn(client, repo, 'v1')).toBe(image.digest);
  });

  it('moves a tag between two stored manifests, back and forth, and serves each move at once', async () => {
    const repo = uniqueRepo('moves');
    const one = await client.pushImage(repo, buildImage());
    const two = await client.pushImage(repo, buildImage());
    await client.putManifest(repo, 'latest', one.manifest, one.mediaType);
    let previous = (await tagRow(server, repo, 'latest'))?.updated_at ?? 0;
    for (const [round, image] of [two, one, two, one].entries()) {
      const res = await client.putManifest(repo, 'latest', image.manifest, image.mediaType);
      expect(res.headers.get('docker-content-digest'), `round ${round}`).toBe(image.digest);
      expect(await digestOn(client, repo, 'latest'), `round ${round}`).toBe(image.digest);
      const row = await tagRow(server, repo, 'latest');
      expect(row?.manifest_digest, `round ${round}`).toBe(image.digest);
      expect(Number(row?.updated_at), `round ${round}`).toBeGreaterThanOrEqual(Number(previous));
      previous = row?.updated_at ?? previous;
    }
    expect((await client.tags(repo)).sort()).toEqual(['latest']);
  });

  it('refuses a re-push of a stored manifest whose layer was deleted from the repository, and leaves the tag', async () => {
    const repo = uniqueRepo('moves');
    const one = await client.pushImage(repo, buildImage({ layers: 1 }));
    const two = await client.pushImage(repo, buildImage({ layers: 1 }));
    await client.putManifest(repo, 'app', one.manifest, one.mediaType);
    const layer = JSON.parse(two.manifest.toString('utf8')).layers[0].digest as string;
    expect((await client.delete(`/v2/${repo}/blobs/${layer}`)).status).toBe(202);

    const refused = await client.pushManifest(repo, 'app', two.manifest, two.mediaType);
    await expectOciError(refused, 400, 'MANIFEST_BLOB_UNKNOWN');
    expect(await digestOn(client, repo, 'app')).toBe(one.digest);
    // A stored manifest whose references are all there still moves the tag.
    await client.putManifest(repo, 'app', one.manifest, one.mediaType);
    expect(await digestOn(client, repo, 'app')).toBe(one.digest);
  });

  it('under an immutability rule: the same manifest again is accepted, a move to a stored manifest refused', async () => {
    const repo = `moves/imm-${Date.now()}`;
    const one = await client.pushImage(repo, buildImage());
    const two = await client.pushImage(repo, buildImage());
    await client.putManifest(repo, 'v1', one.manifest, one.mediaType);
    const rule = await server.berth.lifecycle.addRule('moves', {
      repositoryPattern: 'moves/imm-*',
      tagPattern: 'v*',
    });
    try {
      // The rule is seen at once by the node it was added through (its cached rules were forgotten).
      await client.putManifest(repo, 'v1', one.manifest, one.mediaType);
      await expectOciError(await client.pushManifest(repo, 'v1', two.manifest, two.mediaType), 403, 'DENIED');
      expect(await digestOn(client, repo, 'v1')).toBe(one.digest);
      // A new protected tag on a stored manifest is created.
      await client.putManifest(repo, 'v2', two.manifest, two.mediaType);
      expect(await digestOn(client, repo, 'v2')).toBe(two.digest);
    } finally {
      await server.berth.lifecycle.removeRule('moves', rule.id);
    }
    // Removed: moves are allowed again, at once.
    await client.putManifest(repo, 'v1', two.manifest, two.mediaType);
    expect(await digestOn(client, repo, 'v1')).toBe(two.digest);
  });
});

describe.skipIf(testMetadata !== 'postgres')('two nodes on one PostgreSQL database', () => {
  let database: string;
  let storage: string;
  let nodes: TestBerth[] = [];
  let listener: pg.Client;
  /** The change feed's notifications, as this test's own LISTEN received them. */
  const heard: { kind?: string; repository?: string; tag?: string; project?: string }[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    storage = await mkdtemp(join(tmpdir(), 'berth-tag-moves-'));
    const config = { 'metadata.url': database, 'storage.root': storage };
    nodes = [await startBerth({ config }), await startBerth({ config })];
    listener = new pg.Client({ connectionString: database });
    await listener.connect();
    listener.on('notification', (message) => {
      heard.push((JSON.parse(message.payload ?? '{}') as { event?: (typeof heard)[number] }).event ?? {});
    });
    await listener.query('LISTEN berth_invalidate');
  });
  afterAll(async () => {
    await listener?.end().catch(() => {});
    for (const node of nodes) await node.close();
    if (database) await dropTestDatabase(database);
    if (storage) await rm(storage, { recursive: true, force: true });
  });

  const client = (index: number) => new OciClient((nodes[index] as TestBerth).url);
  const movesOf = (repo: string, tag: string) =>
    heard.filter((e) => e.kind === 'tag-changed' && e.repository === repo && e.tag === tag).length;

  it('a move through node A reaches node B (which caches tags); a re-push that changes nothing sends no NOTIFY', async () => {
    const repo = uniqueRepo('feed');
    const images: BuiltImage[] = [];
    for (let i = 0; i < 2; i++) images.push(await client(0).pushImage(repo, buildImage()));
    const [one, two] = images as [BuiltImage, BuiltImage];
    await client(0).putManifest(repo, 'latest', one.manifest, one.mediaType);
    await waitFor('the first NOTIFY', async () => movesOf(repo, 'latest') === 1, 20_000);
    // Node B reads the tag (and caches it).
    expect(await digestOn(client(1), repo, 'latest')).toBe(one.digest);

    for (const [round, image] of [two, one, two].entries()) {
      await client(0).putManifest(repo, 'latest', image.manifest, image.mediaType);
      expect(await digestOn(client(0), repo, 'latest'), `round ${round}, node A`).toBe(image.digest);
      await waitFor(
        `node B to serve round ${round}'s move`,
        async () => (await digestOn(client(1), repo, 'latest')) === image.digest,
        20_000,
      );
      expect(movesOf(repo, 'latest'), `round ${round}`).toBe(round + 2);
    }

    // The same manifest under the same tag, through either node: 201, nothing sent.
    await client(0).putManifest(repo, 'latest', two.manifest, two.mediaType);
    await client(1).putManifest(repo, 'latest', two.manifest, two.mediaType);
    // A move of another tag afterwards: once its NOTIFY is here, any for the re-pushes would have been too.
    await client(0).putManifest(repo, 'marker', one.manifest, one.mediaType);
    await waitFor('the marker NOTIFY', async () => movesOf(repo, 'marker') === 1, 20_000);
    expect(movesOf(repo, 'latest')).toBe(4);
    for (const index of [0, 1]) expect(await digestOn(client(index), repo, 'latest')).toBe(two.digest);
  });

  it('an immutability rule added through node B protects tags on node A, which had cached the rules', async () => {
    const [a, b] = nodes as [TestBerth, TestBerth];
    await a.berth.accounts.createProject({ name: 'locked' });
    const repo = `locked/app-${Date.now()}`;
    const one = await client(0).pushImage(repo, buildImage());
    const two = await client(0).pushImage(repo, buildImage());
    // Node A pushes a tag: it reads the project's rules (none) and remembers them.
    await client(0).putManifest(repo, 'v1', one.manifest, one.mediaType);
    await client(0).putManifest(repo, 'v1', two.manifest, two.mediaType);
    await client(0).putManifest(repo, 'v1', one.manifest, one.mediaType);

    const rule = await b.berth.lifecycle.addRule('locked', {
      repositoryPattern: 'locked/**',
      tagPattern: 'v*',
    });
    await waitFor(
      'the rule change on the feed',
      async () => heard.some((e) => e.kind === 'immutability-changed' && e.project === 'locked'),
      20_000,
    );
    // Node A hears of it milliseconds after this test's own listener did: until then a move may still pass,
    // so try (alternating targets) until one is refused, then check that it stays refused.
    let target = two;
    await waitFor(
      'node A to refuse moving the protected tag',
      async () => {
        const res = await client(0).pushManifest(repo, 'v1', target.manifest, target.mediaType);
        await res.arrayBuffer();
        if (res.status === 403) return true;
        expect(res.status).toBe(201);
        target = target === two ? one : two;
        return false;
      },
      20_000,
    );
    const kept = await digestOn(client(0), repo, 'v1');
    const other = kept === one.digest ? two : one;
    for (const index of [0, 1]) {
      await expectOciError(
        await client(index).pushManifest(repo, 'v1', other.manifest, other.mediaType),
        403,
        'DENIED',
      );
      expect(await digestOn(client(index), repo, 'v1')).toBe(kept);
    }

    // Removed through node B: node A allows the move again once told.
    await b.berth.lifecycle.removeRule('locked', rule.id);
    await waitFor(
      'node A to allow the move again',
      async () => {
        const res = await client(0).pushManifest(repo, 'v1', other.manifest, other.mediaType);
        await res.arrayBuffer();
        return res.status === 201;
      },
      20_000,
    );
    expect(await digestOn(client(0), repo, 'v1')).toBe(other.digest);
  });
});
