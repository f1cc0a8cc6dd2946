// Online garbage collection over HTTP and on the real storage: what goes (untagged manifests, orphaned
// referrers, unreferenced links and blobs, stored bytes without metadata, expired uploads), what stays
// (tags, index children, referrers of live subjects, subjects of referrers, anything inside the grace
// window), dry runs, history, one run at a time, and pushes racing the collector's claims.
import { mkdir, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthorization } from '../../src/auth/index.js';
import type { CollectionSummary } from '../../src/lifecycle/index.js';
import { CollectionStore } from '../../src/metadata/index.js';
import {
  buildArtifact,
  buildImage,
  buildIndex,
  bytesOf,
  descriptorOf,
  MT,
  OciClient,
  randomBytes,
  sha256,
  uniqueRepo,
} from '../helpers/oci-client.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

const ADMIN = basicAuthorization('admin', 'gc admin password');

interface Run {
  id: number;
  status: string;
  dryRun: boolean;
  trigger: string;
  summary: CollectionSummary | null;
  progress: unknown;
  error: string | null;
}

let server: TestBerth;
let client: OciClient;

async function api(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: ADMIN, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
}

/** Starts a run through the API and waits for it to end; returns the finished run. */
async function collect(dryRun = false): Promise<Run> {
  const res = await api('POST', '/gc/runs', { dryRun });
  const started = (await res.json()) as Run;
  expect(res.status, JSON.stringify(started)).toBe(202);
  expect(started.status).toBe('running');
  for (;;) {
    const run = (await (await api('GET', `/gc/runs/${started.id}`)).json()) as Run;
    if (run.status !== 'running') {
      expect(run.status, run.error ?? '').toBe('succeeded');
      return run;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function blobFile(digest: string): string {
  const [algorithm, hex] = digest.split(':') as [string, string];
  return join(server.dataDir, 'blobs', algorithm, hex.slice(0, 2), hex);
}

async function stored(digest: string): Promise<boolean> {
  return stat(blobFile(digest)).then(
    () => true,
    () => false,
  );
}

async function status(path: string): Promise<number> {
  const res = await client.get(path);
  await res.arrayBuffer();
  return res.status;
}

/** Every blob of the image still pulls, byte for byte. */
async function expectPullable(repo: string, image: { config: Buffer; layers: Buffer[]; digest: string }) {
  expect(await status(`/v2/${repo}/manifests/${image.digest}`)).toBe(200);
  for (const blob of [image.config, ...image.layers]) {
    const res = await client.get(`/v2/${repo}/blobs/${sha256(blob)}`);
    expect(res.status).toBe(200);
    expect((await bytesOf(res)).equals(blob)).toBe(true);
  }
}

beforeAll(async () => {
  // No grace window: everything older than the run's start is fair game (tests of the window set it).
  server = await startBerth({ config: { 'gc.graceSeconds': 0 } });
  client = new OciClient(server.url);
  await server.berth.accounts.setPassword('admin', 'gc admin password');
});

afterAll(async () => {
  await server?.close();
});

describe('what garbage collection deletes and keeps', () => {
  it('deletes an untagged image with its blobs, keeps a tagged one and a layer they share', async () => {
    const repo = uniqueRepo('gc');
    const shared = randomBytes(700);
    const kept = buildImage({ layers: 1 });
    kept.layers.push(shared);
    const keptJson = JSON.parse(kept.manifest.toString());
    keptJson.layers.push(descriptorOf(MT.ociLayer, shared));
    kept.manifest = Buffer.from(JSON.stringify(keptJson));
    kept.digest = sha256(kept.manifest);
    await client.pushImage(repo, kept, 'v1');
    const dropped = buildImage({ layers: 1 });
    dropped.layers.push(shared);
    const droppedJson = JSON.parse(dropped.manifest.toString());
    droppedJson.layers.push(descriptorOf(MT.ociLayer, shared));
    dropped.manifest = Buffer.from(JSON.stringify(droppedJson));
    dropped.digest = sha256(dropped.manifest);
    await client.pushImage(repo, dropped, 'old');
    expect(await status(`/v2/${repo}/manifests/old`)).toBe(200);
    const del = await client.delete(`/v2/${repo}/manifests/old`);
    expect(del.status).toBe(202);

    const dry = await collect(true);
    expect(dry.summary?.dryRun).toBe(true);
    expect(dry.summary?.manifests).toBeGreaterThanOrEqual(1);
    // A dry run deletes nothing.
    expect(await status(`/v2/${repo}/manifests/${dropped.digest}`)).toBe(200);
    expect(await stored(sha256(dropped.config))).toBe(true);

    const run = await collect();
    expect(run.summary?.manifests).toBeGreaterThanOrEqual(1);
    expect(run.summary?.bytes).toBeGreaterThanOrEqual(
      dropped.config.length + (dropped.layers[0]?.length ?? 0),
    );
    expect(await status(`/v2/${repo}/manifests/${dropped.digest}`)).toBe(404);
    expect(await status(`/v2/${repo}/blobs/${sha256(dropped.config)}`)).toBe(404);
    expect(await stored(sha256(dropped.config))).toBe(false);
    expect(await stored(sha256(dropped.layers[0] as Buffer))).toBe(false);
    // The shared layer is still referenced by v1.
    expect(await stored(sha256(shared))).toBe(true);
    await expectPullable(repo, kept);
  });

  it('keeps the untagged children of a tagged index, and deletes those of an untagged one', async () => {
    const repo = uniqueRepo('gc');
    const [a, b, c, d] = [buildImage(), buildImage(), buildImage(), buildImage()];
    for (const image of [a, b, c, d]) await client.pushImage(repo, image);
    const tagged = buildIndex([
      descriptorOf(MT.ociManifest, a.manifest, { platform: { os: 'linux', architecture: 'amd64' } }),
      descriptorOf(MT.ociManifest, b.manifest, { platform: { os: 'linux', architecture: 'arm64' } }),
    ]);
    const untagged = buildIndex([
      descriptorOf(MT.ociManifest, c.manifest, { platform: { os: 'linux', architecture: 'amd64' } }),
      descriptorOf(MT.ociManifest, d.manifest, { platform: { os: 'linux', architecture: 'arm64' } }),
    ]);
    await client.putManifest(repo, 'multi', tagged.manifest, tagged.mediaType);
    await client.putManifest(repo, untagged.digest, untagged.manifest, untagged.mediaType);

    const run = await collect();
    expect(run.summary?.manifests).toBeGreaterThanOrEqual(3);
    for (const image of [a, b]) await expectPullable(repo, image);
    expect(await status(`/v2/${repo}/manifests/multi`)).toBe(200);
    for (const digest of [untagged.digest, c.digest, d.digest]) {
      expect(await status(`/v2/${repo}/manifests/${digest}`)).toBe(404);
    }
    expect(await stored(sha256(c.config))).toBe(false);
    expect(await stored(sha256(d.layers[0] as Buffer))).toBe(false);
  });

  it('keeps referrers of a live subject and the subject of a referrer; collects referrers of a deleted one', async () => {
    const repo = uniqueRepo('gc');
    const image = await client.pushImage(repo, buildImage(), 'v1');
    const subject = descriptorOf(image.mediaType, image.manifest);
    const signature = buildArtifact({ artifactType: 'application/vnd.dev.cosign', subject });
    await client.pushArtifact(repo, signature);
    // An untagged image with an SBOM attached: the issue keeps what a referrer names as subject.
    const byDigest = await client.pushImage(repo, buildImage());
    const sbom = buildArtifact({
      artifactType: 'application/spdx+json',
      subject: descriptorOf(byDigest.mediaType, byDigest.manifest),
    });
    await client.pushArtifact(repo, sbom);

    await collect();
    expect(await status(`/v2/${repo}/manifests/${signature.digest}`)).toBe(200);
    expect(await status(`/v2/${repo}/manifests/${sbom.digest}`)).toBe(200);
    await expectPullable(repo, byDigest);

    // Delete the tagged image by digest: its signature goes with it on the next run.
    expect((await client.delete(`/v2/${repo}/manifests/${image.digest}`)).status).toBe(202);
    const run = await collect();
    expect(run.summary?.manifests).toBeGreaterThanOrEqual(1);
    expect(await status(`/v2/${repo}/manifests/${signature.digest}`)).toBe(404);
    expect(await stored(sha256(signature.blobs[1] as Buffer))).toBe(false);
    // A signature on an SBOM of a deleted image: the chain goes, one link per round.
    const doomed = await client.pushImage(repo, buildImage(), 'doomed');
    const chainSbom = buildArtifact({
      artifactType: 'application/spdx+json',
      subject: descriptorOf(doomed.mediaType, doomed.manifest),
    });
    await client.pushArtifact(repo, chainSbom);
    const chainSignature = buildArtifact({
      artifactType: 'application/vnd.dev.cosign',
      subject: descriptorOf(chainSbom.mediaType, chainSbom.manifest),
    });
    await client.pushArtifact(repo, chainSignature);
    expect((await client.delete(`/v2/${repo}/manifests/${doomed.digest}`)).status).toBe(202);
    await collect();
    expect(await status(`/v2/${repo}/manifests/${chainSbom.digest}`)).toBe(404);
    expect(await status(`/v2/${repo}/manifests/${chainSignature.digest}`)).toBe(404);
    const referrers = await client.get(`/v2/${repo}/referrers/${image.digest}`);
    expect(((await referrers.json()) as { manifests: unknown[] }).manifests).toEqual([]);
  });

  it('deletes links no manifest references (an abandoned push) and takes them off the quota usage', async () => {
    await server.berth.accounts.createProject({ name: 'gcquota' });
    const repo = 'gcquota/abandoned';
    const layer = randomBytes(4096);
    await client.pushBlob(repo, layer);
    expect((await server.berth.lifecycle.quota('gcquota')).usedBytes).toBe(4096);
    const run = await collect();
    expect(run.summary?.links).toBeGreaterThanOrEqual(1);
    expect(await status(`/v2/${repo}/blobs/${sha256(layer)}`)).toBe(404);
    expect(await stored(sha256(layer))).toBe(false);
    expect((await server.berth.lifecycle.quota('gcquota')).usedBytes).toBe(0);
  });

  it('deletes stored bytes that have no metadata once older than the grace window', async () => {
    const old = randomBytes(300);
    const fresh = randomBytes(300);
    for (const data of [old, fresh]) {
      const file = blobFile(sha256(data));
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, data);
    }
    const past = new Date(Date.now() - 60_000);
    await utimes(blobFile(sha256(old)), past, past);
    // A future mtime stands for "written after the run started".
    const future = new Date(Date.now() + 60_000);
    await utimes(blobFile(sha256(fresh)), future, future);

    const dry = await collect(true);
    expect(dry.summary?.orphans.objects).toBeGreaterThanOrEqual(1);
    expect(await stored(sha256(old))).toBe(true);
    const run = await collect();
    expect(run.summary?.orphans.objects).toBeGreaterThanOrEqual(1);
    expect(await stored(sha256(old))).toBe(false);
    expect(await stored(sha256(fresh))).toBe(true);
  });
});

describe('the grace window', () => {
  let graced: TestBerth;
  beforeAll(async () => {
    graced = await startBerth({ config: { 'gc.graceSeconds': 3600 } });
  });
  afterAll(async () => {
    await graced?.close();
  });

  it('spares everything younger than the window', async () => {
    const other = new OciClient(graced.url);
    const repo = uniqueRepo('gc');
    const layer = randomBytes(512);
    await other.pushBlob(repo, layer);
    const image = await other.pushImage(repo, buildImage());
    const started = await graced.berth.gc.start({ dryRun: false });
    const finished = await waitFor(graced, started.id);
    expect(finished.summary).toMatchObject({ manifests: 0, links: 0, blobs: 0 });
    expect((await graced.berth.gc.runs({ limit: 1 }))[0]?.id).toBe(started.id);
    const res = await other.get(`/v2/${repo}/blobs/${sha256(layer)}`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect((await other.get(`/v2/${repo}/manifests/${image.digest}`)).status).toBe(200);
  });
});

async function waitFor(target: TestBerth, id: number): Promise<Run> {
  return (await target.berth.gc.wait(id)) as unknown as Run;
}

describe('runs', () => {
  it('lists the history newest first, 404s an unknown run, and refuses a second concurrent run', async () => {
    const first = await api('POST', '/gc/runs', { dryRun: true });
    const second = await api('POST', '/gc/runs', { dryRun: true });
    const started = (await first.json()) as Run;
    expect(first.status).toBe(202);
    // The first run may already have ended on a nearly empty registry; if not, the second is refused.
    if (second.status === 409) {
      const body = (await second.json()) as { errors: { code: string; message: string }[] };
      expect(body.errors[0]).toMatchObject({
        code: 'CONFLICT',
        message: 'garbage collection is running already',
      });
    } else {
      expect(second.status).toBe(202);
      await second.json();
    }
    await waitFor(server, started.id);
    const list = (await (await api('GET', '/gc/runs?limit=2')).json()) as { items: Run[]; next?: string };
    expect(list.items.length).toBe(2);
    expect(list.items[0]?.id ?? 0).toBeGreaterThan(list.items[1]?.id ?? 0);
    expect(list.next).toBeDefined();
    const missing = await api('GET', '/gc/runs/999999');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('NOT_FOUND');
    const bad = await api('POST', '/gc/runs', { dryRun: 'yes' });
    expect(bad.status).toBe(400);
  });

  it('refuses a second run while one holds the lock, on any process of the database', async () => {
    const runs = server.berth.gc;
    const blocker = await (server.berth as unknown as { gc: typeof runs }).gc.start({ dryRun: true });
    // Whether or not the first ended already, the history lock is what decides: start two at once.
    const results = await Promise.allSettled([runs.start({ dryRun: true }), runs.start({ dryRun: true })]);
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).toBeGreaterThanOrEqual(1);
    await waitFor(server, blocker.id);
    for (const r of results) if (r.status === 'fulfilled') await waitFor(server, r.value.id);
  });
});

describe('pushes racing the collector', () => {
  it('a push of a blob the collector has claimed waits, then stores it whole', async () => {
    const repo = uniqueRepo('gc');
    const data = randomBytes(2048);
    const digest = sha256(data);
    await client.pushBlob(repo, data);
    // Make the blob garbage: drop its link the way a delete does, then claim it as a collector would.
    expect((await client.delete(`/v2/${repo}/blobs/${digest}`)).status).toBe(202);
    const collection = new CollectionStore(server.berth.registry.meta.db);
    const claim = Date.now() + 60_000;
    const claimed = await collection.claimBlobs([digest], Date.now() + 1, claim);
    expect(claimed.map((b) => b.digest)).toEqual([digest]);

    let pushed = false;
    const push = client.pushBlob(repo, data).then(() => {
      pushed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(pushed).toBe(false);
    // The collector deletes the bytes under its claim, then the row: the waiting push then stores them anew.
    const { rm } = await import('node:fs/promises');
    await rm(blobFile(digest));
    expect(await collection.dropClaimed([digest], claim)).toBe(1);
    await push;
    const res = await client.get(`/v2/${repo}/blobs/${digest}`);
    expect(res.status).toBe(200);
    expect((await bytesOf(res)).equals(data)).toBe(true);
    // And the push's touch keeps the next collector away for its grace window.
    expect(await collection.claimBlobs([digest], Date.now() - 60_000, Date.now() + 60_000)).toEqual([]);
  });

  it('a mount of a blob being collected is refused (the client uploads instead)', async () => {
    const source = uniqueRepo('gc');
    const target = uniqueRepo('gc');
    const data = randomBytes(1024);
    const digest = sha256(data);
    await client.pushBlob(source, data);
    const collection = new CollectionStore(server.berth.registry.meta.db);
    // A claim can only be taken on an unlinked blob: unlink it first, claim, then relink the source by hand
    // is impossible (the claim blocks it) — so mount from a repository whose link the collector just removed.
    expect((await client.delete(`/v2/${source}/blobs/${digest}`)).status).toBe(202);
    await collection.claimBlobs([digest], Date.now() + 1, Date.now() + 60_000);
    const res = await client.request('POST', `/v2/${target}/blobs/uploads/?mount=${digest}&from=${source}`);
    await res.arrayBuffer();
    expect(res.status).toBe(202);
    expect(await status(`/v2/${target}/blobs/${digest}`)).toBe(404);
  });

  it('a manifest whose layer link vanished between its check and its commit is refused, not stored broken', async () => {
    const repo = uniqueRepo('gc');
    const image = buildImage({ layers: 1 });
    await client.pushBlob(repo, image.config);
    // The layer is not linked: putManifest's in-transaction check is what refuses it.
    await expect(
      server.berth.registry.meta.putManifest(
        repo,
        {
          digest: image.digest,
          mediaType: image.mediaType,
          size: image.manifest.length,
          content: image.manifest,
          subject: null,
          artifactType: null,
          annotations: null,
          references: [
            { digest: sha256(image.config), kind: 'blob' },
            { digest: sha256(image.layers[0] as Buffer), kind: 'blob' },
          ],
        },
        'v1',
      ),
    ).rejects.toMatchObject({ name: 'MissingReference', digest: sha256(image.layers[0] as Buffer) });
    expect(await status(`/v2/${repo}/manifests/v1`)).toBe(404);
  });
});
