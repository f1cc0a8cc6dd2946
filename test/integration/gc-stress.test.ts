// Garbage collection in a loop while several clients push and pull images with shared and distinct layers,
// abandon pushes and untag images. Afterwards every acknowledged image pulls complete and verified, and the
// collector has freed exactly the garbage it was given: storage holds the referenced blobs and nothing else.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RegistryError } from '../../src/registry/index.js';
import {
  type BuiltImage,
  buildImage,
  bytesOf,
  descriptorOf,
  MT,
  OciClient,
  randomBytes,
  sha256,
  sleep,
} from '../helpers/oci-client.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

const GRACE_SECONDS = 2;
const STRESS_MS = 8000;
const PUSHERS = 4;
const PULLERS = 2;

let server: TestBerth;
let client: OciClient;

beforeAll(async () => {
  server = await startBerth({ config: { 'gc.graceSeconds': GRACE_SECONDS } });
  client = new OciClient(server.url);
});

afterAll(async () => {
  await server?.close();
});

/** An image on one of the shared base layers plus a layer of its own. */
function imageOn(base: Buffer): BuiltImage {
  const image = buildImage({ layers: 1, layerSize: 2048 });
  image.layers.unshift(base);
  const json = JSON.parse(image.manifest.toString());
  json.layers.unshift(descriptorOf(MT.ociLayer, base));
  image.manifest = Buffer.from(JSON.stringify(json));
  image.digest = sha256(image.manifest);
  return image;
}

async function pushBlob(repo: string, data: Buffer): Promise<void> {
  // A blob being collected at this instant answers 503 with Retry-After: the client tries again.
  for (let attempt = 0; ; attempt++) {
    const res = await client.request('POST', `/v2/${repo}/blobs/uploads/?digest=${sha256(data)}`, {
      headers: { 'content-type': 'application/octet-stream' },
      body: data,
    });
    const text = await res.text();
    if (res.status === 201) return;
    if (res.status !== 503 || attempt > 20) throw new Error(`blob push: ${res.status} ${text}`);
    await sleep(200);
  }
}

/** Pushes layers, maybe dawdles past the grace window, then the manifest; retries when its layers were collected. */
async function pushImage(repo: string, tag: string, image: BuiltImage, dawdleMs: number): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    await pushBlob(repo, image.config);
    for (const layer of image.layers) await pushBlob(repo, layer);
    if (dawdleMs > 0) await sleep(dawdleMs);
    const res = await client.pushManifest(repo, tag, image.manifest, image.mediaType);
    const text = await res.text();
    if (res.status === 201) return attempt;
    // Layers left unreferenced longer than the grace window may be collected: push them again.
    if (res.status === 400 && text.includes('MANIFEST_BLOB_UNKNOWN') && attempt < 5) {
      dawdleMs = 0;
      continue;
    }
    throw new Error(`manifest push ${repo}:${tag}: ${res.status} ${text}`);
  }
}

async function pullVerified(repo: string, tag: string, image: BuiltImage): Promise<void> {
  const res = await client.get(`/v2/${repo}/manifests/${tag}`, { accept: MT.ociManifest });
  const body = await bytesOf(res);
  expect(res.status, `${repo}:${tag}`).toBe(200);
  expect(sha256(body)).toBe(image.digest);
  for (const blob of [image.config, ...image.layers]) {
    const blobRes = await client.get(`/v2/${repo}/blobs/${sha256(blob)}`);
    const bytes = await bytesOf(blobRes);
    expect(blobRes.status, `${repo} blob ${sha256(blob)}`).toBe(200);
    expect(sha256(bytes)).toBe(sha256(blob));
  }
}

async function storedBlobs(): Promise<Set<string>> {
  const found = new Set<string>();
  const root = join(server.dataDir, 'blobs', 'sha256');
  for (const prefix of await readdir(root).catch(() => [] as string[])) {
    for (const hex of await readdir(join(root, prefix))) found.add(`sha256:${hex}`);
  }
  return found;
}

it('loses no acknowledged image and frees the garbage while pushes and pulls go on', {
  timeout: 120_000,
}, async () => {
  const bases = [randomBytes(4096), randomBytes(4096), randomBytes(4096)];
  const acknowledged: { repo: string; tag: string; image: BuiltImage }[] = [];
  const garbage = { untagged: 0, abandoned: 0 };
  let retried = 0;
  let pulls = 0;
  let runs = 0;
  let freed = 0;
  const deadline = Date.now() + STRESS_MS;
  // Traffic goes on for STRESS_MS, and past it until each kind of work happened often enough to mean
  // something: on a busy machine the same time holds less work, and a count must not depend on the speed.
  const enough = () =>
    runs >= 3 && acknowledged.length > 10 && pulls > 10 && garbage.untagged + garbage.abandoned > 3;
  const going = () => Date.now() < deadline || !enough();

  const pusher = async (n: number) => {
    for (let i = 0; going(); i++) {
      const repo = `stress/p${n}-${i % 3}`;
      const image = imageOn(bases[(n + i) % bases.length] as Buffer);
      const roll = Math.random();
      if (roll < 0.15) {
        // An abandoned push: layers and no manifest.
        await pushBlob(repo, randomBytes(1024));
        garbage.abandoned++;
        continue;
      }
      const tag = `t${i}`;
      const attempts = await pushImage(repo, tag, image, roll > 0.85 ? 2500 : 0);
      retried += attempts - 1;
      if (roll < 0.3) {
        // Pushed, then untagged: garbage once the grace window passes.
        const res = await client.delete(`/v2/${repo}/manifests/${tag}`);
        expect(res.status).toBe(202);
        garbage.untagged++;
      } else {
        acknowledged.push({ repo, tag, image });
      }
    }
  };
  const puller = async () => {
    while (going()) {
      const pick = acknowledged[Math.floor(Math.random() * acknowledged.length)];
      if (!pick) {
        await sleep(50);
        continue;
      }
      await pullVerified(pick.repo, pick.tag, pick.image);
      pulls++;
    }
  };
  const collector = async () => {
    while (going()) {
      try {
        const run = await server.berth.gc.start({ dryRun: false });
        const done = await server.berth.gc.wait(run.id);
        if (!done) throw new Error(`run ${run.id} is not in the history`);
        expect(done.status, done.error ?? '').toBe('succeeded');
        freed += (done.summary as { bytes: number }).bytes;
        runs++;
      } catch (error) {
        if (!(error instanceof RegistryError && error.code === 'CONFLICT')) throw error;
      }
      await sleep(100);
    }
  };

  await Promise.all([
    ...Array.from({ length: PUSHERS }, (_, n) => pusher(n)),
    ...Array.from({ length: PULLERS }, () => puller()),
    collector(),
  ]);
  expect(runs).toBeGreaterThanOrEqual(3);
  expect(acknowledged.length).toBeGreaterThan(10);
  expect(pulls).toBeGreaterThan(10);
  expect(garbage.untagged + garbage.abandoned).toBeGreaterThan(3);

  // Once the grace window has passed, one more run leaves exactly what the tagged images reference.
  await sleep(GRACE_SECONDS * 1000 + 200);
  const final = await server.berth.gc.wait((await server.berth.gc.start({ dryRun: false })).id);
  if (!final) throw new Error('the final run is not in the history');
  expect(final.status, final.error ?? '').toBe('succeeded');
  freed += (final.summary as { bytes: number }).bytes;
  expect(freed).toBeGreaterThan(0);
  for (const { repo, tag, image } of acknowledged) await pullVerified(repo, tag, image);
  const referenced = new Set<string>();
  for (const { image } of acknowledged) {
    for (const blob of [image.config, ...image.layers]) referenced.add(sha256(blob));
  }
  expect([...(await storedBlobs())].sort()).toEqual([...referenced].sort());
  const rows = await server.berth.registry.meta.db.selectFrom('blobs').select('digest').execute();
  expect(rows.map((row) => row.digest).sort()).toEqual([...referenced].sort());
  console.info(
    `gc stress: ${acknowledged.length} images acknowledged, ${retried} manifest pushes retried, ` +
      `${garbage.untagged} untagged + ${garbage.abandoned} abandoned, ${pulls} verified pulls, ${runs} runs, ` +
      `${freed} bytes freed`,
  );
});
