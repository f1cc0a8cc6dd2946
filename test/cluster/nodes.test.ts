// Berth as several stateless nodes: three `berth serve` processes sharing one PostgreSQL database and one blob
// store, run once per storage backend. Whatever one node writes, the others must serve.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBlob, patchChunk, pushBlob, startSession, waitFor, withDigest } from '../fault/support.js';
import { buildBusyboxLayout, hashBlobs, layoutDigest, requireTool, run } from '../fixtures/image.js';
import type { ChildBerth } from '../helpers/child-server.js';
import { type Cluster, startCluster, storageBackends } from '../helpers/cluster.js';
import { buildImage, MT, OciClient, sha256, sleep, uniqueRepo } from '../helpers/oci-client.js';
import { postgresAvailable } from '../helpers/postgres.js';
import { describeReply, openRequest, send } from '../helpers/raw-http.js';

const MiB = 1024 * 1024;
const GC_ADMIN_PASSWORD = 'cluster gc admin password';
const SKOPEO_TIMEOUT = 90_000;

const TOOLS = ['skopeo', 'umoci', 'apt-get', 'dpkg'];
const missingTools = TOOLS.filter((tool) => !requireTool(tool));
if (missingTools.length > 0) {
  console.warn(
    `\n!!! SKIPPING the multi-node skopeo test: missing tool(s): ${missingTools.join(', ')} !!!\n`,
  );
}

const backends = await storageBackends();
for (const backend of backends) {
  if (backend.unavailable) {
    console.warn(`\n!!! SKIPPING multi-node tests on ${backend.name}: ${backend.unavailable} !!!\n`);
  }
}

function skopeo(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('skopeo', ['--insecure-policy', ...args], { timeoutMs: SKOPEO_TIMEOUT });
}

/** The value of an unlabelled counter in a node's /metrics. */
async function counter(node: ChildBerth, name: string): Promise<number> {
  const reply = await send(node.url, 'GET', '/metrics');
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(reply.body.toString('utf8'));
  if (!match) throw new Error(`no ${name} in /metrics of ${node.url}`);
  return Number(match[1]);
}

for (const backend of backends) {
  // Without PostgreSQL, postgres.ts has already said loudly that its tests skip (and thrown under CI).
  const skip = backend.unavailable !== undefined || !postgresAvailable;
  const title = `three nodes, ${backend.name}${backend.unavailable ? ` — SKIPPED: ${backend.unavailable}` : ''}`;

  describe.skipIf(skip)(title, () => {
    let cluster: Cluster;
    let tmp: string;

    beforeAll(async () => {
      tmp = await mkdtemp(join(tmpdir(), 'berth-cluster-test-'));
      cluster = await startCluster(backend, {
        // The GC test calls the management API as admin, with a short grace window.
        env: { BERTH_ADMIN_PASSWORD: GC_ADMIN_PASSWORD, BERTH_GC_GRACE_SECONDS: '1' },
      });
    }, 60_000);

    afterAll(async () => {
      await cluster?.destroy();
      if (tmp) await rm(tmp, { recursive: true, force: true });
    });

    const node = (index: number): ChildBerth => {
      const found = cluster.nodes[index];
      if (!found) throw new Error(`no node ${index}`);
      return found;
    };
    const host = (index: number) => `127.0.0.1:${node(index).port}`;
    const client = (index: number) => new OciClient(node(index).url);
    const ALL = [0, 1, 2];

    /** Objects of the shared store holding the blob (its content address ends with the hex digest). */
    async function storedCopies(digest: string): Promise<number[]> {
      const hex = digest.replace(/^sha256:/, '');
      return (await cluster.storage.objects())
        .filter((object) => /(^|\/)blobs\//.test(object.key) && object.key.endsWith(`/${hex}`))
        .map((object) => object.size);
    }

    async function uploadObjects(): Promise<string[]> {
      return (await cluster.storage.objects())
        .map((object) => object.key)
        .filter((key) => /(^|\/)uploads\//.test(key));
    }

    /** Every node serves the blob with exactly these bytes. */
    async function expectBlobOnEveryNode(repo: string, data: Buffer): Promise<void> {
      const digest = sha256(data);
      for (const index of ALL) {
        const reply = await getBlob(node(index).url, repo, digest);
        expect(reply.status, `node ${index + 1}: ${describeReply(reply)}`).toBe(200);
        expect(reply.headers['docker-content-digest']).toBe(digest);
        expect(reply.body.length, `node ${index + 1}`).toBe(data.length);
        expect(sha256(reply.body), `node ${index + 1}`).toBe(digest);
      }
    }

    async function getManifest(index: number, repo: string, reference: string) {
      return send(node(index).url, 'GET', `/v2/${repo}/manifests/${reference}`, {
        headers: { accept: MT.ociManifest },
      });
    }

    it.skipIf(missingTools.length > 0)(
      'skopeo pushes a real image through node 1; nodes 2 and 3 inspect it and copy it out byte for byte',
      async () => {
        const layout = await buildBusyboxLayout();
        const repo = uniqueRepo('cluster');
        await skopeo(
          'copy',
          '--dest-tls-verify=false',
          `oci:${layout.dir}:${layout.tag}`,
          `docker://${host(0)}/${repo}:1.0`,
        );
        const expected = await hashBlobs(layout.dir);

        for (const index of [1, 2]) {
          const ref = `docker://${host(index)}/${repo}:1.0`;
          const inspected = JSON.parse((await skopeo('inspect', '--tls-verify=false', ref)).stdout) as {
            Digest: string;
          };
          expect(inspected.Digest, `node ${index + 1}`).toBe(layout.digest);
          const raw = (await skopeo('inspect', '--raw', '--tls-verify=false', ref)).stdout;
          expect(sha256(raw)).toBe(layout.digest);

          const out = join(tmp, `busybox-from-node-${index + 1}`);
          await skopeo('copy', '--src-tls-verify=false', ref, `oci:${out}:1.0`);
          expect(await layoutDigest(out, '1.0')).toBe(layout.digest);
          const pulled = await hashBlobs(out);
          for (const [digest, hash] of pulled) expect(`sha256:${hash}`, `blob ${digest}`).toBe(digest);
          expect(pulled).toEqual(expected);
        }
        // One copy of the config and of each layer in the shared store (the manifest lives in the database).
        for (const digest of expected.keys()) {
          if (digest === layout.digest) continue;
          expect(await storedCopies(digest), `copies of ${digest}`).toHaveLength(1);
        }
      },
      2 * SKOPEO_TIMEOUT,
    );

    it('a tag moved through one node is served with the new digest by that node at once and by every node once told, six times over', async () => {
      const repo = uniqueRepo('cluster');
      // Four moves through node 1, then one through node 2 and one through node 3.
      const WRITERS = [0, 0, 0, 0, 1, 2];
      const images = Array.from({ length: WRITERS.length + 1 }, () =>
        buildImage({ layers: 1, layerSize: 256 }),
      );
      for (const image of images) await client(0).pushImage(repo, image);
      const [first, ...rest] = images;
      if (!first) throw new Error('no image');
      await client(0).putManifest(repo, 'latest', first.manifest, first.mediaType);

      // Every node reads the tag before each move (here, then at the end of each round), so a node that
      // cached tag lookups would still answer with the old digest.
      for (const index of ALL) {
        expect((await getManifest(index, repo, 'latest')).headers['docker-content-digest']).toBe(
          first.digest,
        );
      }
      for (const [round, image] of rest.entries()) {
        const writer = WRITERS[round] ?? 0;
        await client(writer).putManifest(repo, 'latest', image.manifest, image.mediaType);
        await client(writer).putManifest(repo, `round-${round}`, image.manifest, image.mediaType);
        // The writer serves its own write at once; the others cache tags on PostgreSQL and hear of the move
        // over LISTEN/NOTIFY, milliseconds later (test/cluster/hot-path-caches.test.ts logs the lag): poll.
        expect((await getManifest(writer, repo, 'latest')).headers['docker-content-digest']).toBe(
          image.digest,
        );
        for (const index of ALL) {
          await waitFor(
            `node ${index + 1} to serve the moved tag`,
            async () =>
              (await getManifest(index, repo, 'latest')).headers['docker-content-digest'] === image.digest,
            20_000,
          );
          const reply = await getManifest(index, repo, 'latest');
          const where = `round ${round}, written through node ${writer + 1}, read on node ${index + 1}`;
          expect(reply.status, where).toBe(200);
          expect(reply.headers['docker-content-digest'], where).toBe(image.digest);
          expect(reply.body.equals(image.manifest), where).toBe(true);
          const head = await send(node(index).url, 'HEAD', `/v2/${repo}/manifests/latest`, {
            headers: { accept: MT.ociManifest },
          });
          expect(head.headers['docker-content-digest'], `HEAD: ${where}`).toBe(image.digest);
          expect(await client(index).tags(repo), where).toContain(`round-${round}`);
        }
      }
    });

    it('a manifest deleted through node 1 is gone on nodes 2 and 3 within 2 s', async () => {
      const repo = uniqueRepo('cluster');
      const image = await client(0).pushRandomImage(repo, 'doomed');
      // Nodes 2 and 3 read it by digest twice: the second answer comes from their manifest caches.
      for (const index of [1, 2]) {
        for (let i = 0; i < 2; i++) {
          const reply = await getManifest(index, repo, image.digest);
          expect(reply.status, describeReply(reply)).toBe(200);
        }
      }

      const deleted = await send(node(0).url, 'DELETE', `/v2/${repo}/manifests/${image.digest}`);
      expect(deleted.status, describeReply(deleted)).toBe(202);
      const started = Date.now();
      expect((await getManifest(0, repo, image.digest)).status).toBe(404);
      // Its tag went with it: at once on the writer, on the others once the NOTIFY arrives.
      expect((await getManifest(0, repo, 'doomed')).status, 'tag on node 1').toBe(404);
      for (const index of [1, 2]) {
        await waitFor(
          `node ${index + 1} to forget the tag of the deleted manifest`,
          async () => (await getManifest(index, repo, 'doomed')).status === 404,
          20_000,
        );
      }
      // By digest, the other nodes answer from their caches until the invalidation reaches them over
      // PostgreSQL LISTEN/NOTIFY: asynchronously, in milliseconds. So poll, for at most 2 s.
      for (const index of [1, 2]) {
        await waitFor(
          `node ${index + 1} to answer 404 for the deleted manifest`,
          async () => (await getManifest(index, repo, image.digest)).status === 404,
          2000,
        );
      }
      const converged = Date.now() - started;
      expect(converged).toBeLessThan(2000);
      // And it stays gone.
      for (const index of ALL) {
        const reply = await getManifest(index, repo, image.digest);
        expect(reply.status, `node ${index + 1} after ${converged} ms`).toBe(404);
      }
      const rows = await cluster.query('select 1 from manifests where digest = $1', [image.digest]);
      expect(rows).toHaveLength(0);
    });

    it('garbage collection started on node 2 while node 1 pushes and node 3 pulls: one run at a time, garbage gone everywhere, nothing pushed lost', async () => {
      const admin = {
        authorization: `Basic ${Buffer.from(`admin:${GC_ADMIN_PASSWORD}`).toString('base64')}`,
      };
      const gcApi = (index: number, method: string, path: string, body?: unknown) =>
        fetch(`${node(index).url}/api/v1${path}`, {
          method,
          headers: { ...admin, ...(body !== undefined && { 'content-type': 'application/json' }) },
          ...(body !== undefined && { body: JSON.stringify(body) }),
        });
      const repo = uniqueRepo('cluster-gc');
      const kept = await client(0).pushRandomImage(repo, 'kept');
      const doomed = await client(0).pushRandomImage(repo, 'doomed');
      // Node 3 caches the doomed manifest by digest; then its tag goes, and the grace window passes.
      for (let i = 0; i < 2; i++) expect((await getManifest(2, repo, doomed.digest)).status).toBe(200);
      expect((await send(node(0).url, 'DELETE', `/v2/${repo}/manifests/doomed`)).status).toBe(202);
      await sleep(1100);

      const first = await gcApi(1, 'POST', '/gc/runs', { dryRun: false });
      const run = (await first.json()) as { id: number; status: string };
      expect(first.status, JSON.stringify(run)).toBe(202);
      // Meanwhile: a push through node 1 and verified pulls through node 3.
      const during = client(0).pushRandomImage(repo, 'during');
      const second = await gcApi(2, 'POST', '/gc/runs', { dryRun: true });
      const secondBody = (await second.json()) as { errors?: { code: string }[]; id?: number };
      let finished: {
        status: string;
        summary: { manifests: number; blobs: number } | null;
        error: string | null;
      };
      for (;;) {
        finished = (await (await gcApi(2, 'GET', `/gc/runs/${run.id}`)).json()) as typeof finished;
        if (finished.status !== 'running') break;
        await sleep(20);
      }
      // The second request was refused while the first ran, unless the first had already ended.
      if (second.status === 409) expect(secondBody.errors?.[0]?.code).toBe('CONFLICT');
      else expect(second.status).toBe(202);
      expect(finished.status, finished.error ?? '').toBe('succeeded');
      expect(finished.summary?.manifests).toBeGreaterThanOrEqual(1);
      expect(finished.summary?.blobs).toBeGreaterThanOrEqual(3);
      const pushed = await during;

      await waitFor(
        'node 3 to forget the collected manifest',
        async () => (await getManifest(2, repo, doomed.digest)).status === 404,
        2000,
      );
      const stored = new Set((await cluster.storage.objects()).map((object) => object.key));
      for (const blob of [doomed.config, ...doomed.layers]) {
        expect(stored.has(`blobs/sha256/${sha256(blob).slice(7, 9)}/${sha256(blob).slice(7)}`)).toBe(false);
      }
      for (const [index, image] of [
        [2, kept],
        [1, pushed],
      ] as const) {
        for (const blob of [image.config, ...image.layers]) {
          const reply = await getBlob(node(index).url, repo, sha256(blob));
          expect(reply.status, describeReply(reply)).toBe(200);
          expect(sha256(reply.body)).toBe(sha256(blob));
        }
      }
    });

    it('with its change feed cut, a node still sees tag moves and forgets deleted manifests on reconnecting', async () => {
      const repo = uniqueRepo('cluster');
      const make = () => buildImage({ layers: 1, layerSize: 256 });
      const images = [make(), make(), make(), make(), make()] as const;
      for (const image of images) await client(0).pushImage(repo, image);
      const [first, second, third, doomed, doomedLater] = images;
      await client(0).putManifest(repo, 'latest', first.manifest, first.mediaType);
      expect(await cluster.changeFeeds(), 'one change feed per node').toHaveLength(3);
      const feedErrors = (index: number) =>
        node(index)
          .logs()
          .filter((e) => e.msg === 'change feed').length;
      const listening = () =>
        waitFor('every node to listen', async () => (await cluster.changeFeeds()).length === 3, 5000);
      const cut = async () => {
        await listening();
        const before = ALL.map(feedErrors);
        await cluster.cutChangeFeeds();
        for (const index of ALL) {
          await waitFor(
            `node ${index + 1} to notice its change feed was cut`,
            () => feedErrors(index) > (before[index] ?? 0),
            5000,
          );
        }
      };
      const digestOn = async (index: number, reference: string) =>
        (await getManifest(index, repo, reference)).headers['docker-content-digest'];

      // Until they reconnect (200 ms later), the nodes hear no invalidations: a tag move stays visible
      // because a deaf node reads tags from the database instead of its cache.
      await cut();
      let current = first;
      for (const image of [second, third]) {
        for (const index of [1, 2]) expect(await digestOn(index, 'latest')).toBe(current.digest);
        await client(0).putManifest(repo, 'latest', image.manifest, image.mediaType);
        // Deaf, a node reads tags from the database; if it has reconnected meanwhile, the NOTIFY tells it.
        for (const index of [1, 2])
          await waitFor(
            `node ${index + 1} to serve the tag moved while its feed was cut`,
            async () => (await digestOn(index, 'latest')) === image.digest,
            20_000,
          );
        current = image;
      }

      // A delete while they are deaf: they drop every cached manifest when they reconnect.
      await cut();
      for (const index of [1, 2]) {
        expect(await digestOn(index, doomed.digest)).toBe(doomed.digest);
        expect(await digestOn(index, doomed.digest)).toBe(doomed.digest);
      }
      const deleted = await send(node(0).url, 'DELETE', `/v2/${repo}/manifests/${doomed.digest}`);
      expect(deleted.status, describeReply(deleted)).toBe(202);
      for (const index of [1, 2]) {
        await waitFor(
          `node ${index + 1} to forget the manifest deleted while its feed was down`,
          async () => (await getManifest(index, repo, doomed.digest)).status === 404,
          2000,
        );
      }

      // Back on the feed, invalidations flow again. (The pause lets each node finish the cache flush it does
      // right after re-listening, so that what follows is cached anew and only a live NOTIFY can clear it.)
      await listening();
      await sleep(100);
      for (const index of [1, 2]) expect(await digestOn(index, doomedLater.digest)).toBe(doomedLater.digest);
      const later = await send(node(0).url, 'DELETE', `/v2/${repo}/manifests/${doomedLater.digest}`);
      expect(later.status, describeReply(later)).toBe(202);
      for (const index of [1, 2]) {
        await waitFor(
          `node ${index + 1} to forget the manifest deleted after it reconnected`,
          async () => (await getManifest(index, repo, doomedLater.digest)).status === 404,
          2000,
        );
      }
    });

    it('a chunked upload whose PATCHes alternate between nodes 1 and 2 is closed on node 3', async () => {
      const repo = uniqueRepo('cluster');
      const chunks = Array.from({ length: 5 }, () => randomBytes(MiB));
      const tail = randomBytes(12_345);
      const blob = Buffer.concat([...chunks, tail]);
      const { location, id } = await startSession(node(0).url, repo);

      let offset = 0;
      for (const [i, chunk] of chunks.entries()) {
        const via = i % 2;
        const reply = await patchChunk(node(via).url, location, chunk, offset);
        expect(reply.status, `chunk ${i} on node ${via + 1}: ${describeReply(reply)}`).toBe(202);
        offset += chunk.length;
        expect(reply.headers.range).toBe(`0-${offset - 1}`);
        // The third node knows where the upload stands.
        const status = await send(node(2).url, 'GET', location);
        expect(status.status, describeReply(status)).toBe(204);
        expect(status.headers.range).toBe(`0-${offset - 1}`);
      }
      const done = await send(node(2).url, 'PUT', withDigest(location, sha256(blob)), {
        headers: { 'content-range': `${offset}-${blob.length - 1}` },
        body: tail,
      });
      expect(done.status, describeReply(done)).toBe(201);
      expect(done.headers['docker-content-digest']).toBe(sha256(blob));

      await expectBlobOnEveryNode(repo, blob);
      for (const index of ALL) expect((await send(node(index).url, 'GET', location)).status).toBe(404);
      expect((await uploadObjects()).filter((key) => key.includes(id))).toEqual([]);
      expect(await storedCopies(sha256(blob))).toEqual([blob.length]);
    });

    it('an upload closed on a node whose running hash went stale (a chunk went through another node)', async () => {
      const repo = uniqueRepo('cluster');
      const chunks = [randomBytes(MiB + 1), randomBytes(MiB + 2)];
      const blob = Buffer.concat(chunks);
      const { location } = await startSession(node(0).url, repo);
      expect((await patchChunk(node(0).url, location, chunks[0] as Buffer, 0)).status).toBe(202);
      expect((await patchChunk(node(1).url, location, chunks[1] as Buffer, MiB + 1)).status).toBe(202);
      // Node 1 hashed only the first chunk; the digest must cover both.
      const done = await send(node(0).url, 'PUT', withDigest(location, sha256(blob)));
      expect(done.status, describeReply(done)).toBe(201);
      await expectBlobOnEveryNode(repo, blob);

      // And a wrong digest is refused there all the same.
      const other = await startSession(node(0).url, repo);
      expect((await patchChunk(node(0).url, other.location, chunks[0] as Buffer, 0)).status).toBe(202);
      expect((await patchChunk(node(1).url, other.location, chunks[1] as Buffer, MiB + 1)).status).toBe(202);
      const wrong = await send(node(0).url, 'PUT', withDigest(other.location, sha256(chunks[0] as Buffer)));
      expect(wrong.status, describeReply(wrong)).toBe(400);
    });

    it('the same 8 MiB layer pushed through all three nodes at once: all succeed, stored once, served everywhere', async () => {
      const repo = uniqueRepo('cluster');
      const layer = randomBytes(8 * MiB);
      const digest = sha256(layer);
      const half = 4 * MiB;
      const uploadsBefore = await uploadObjects();

      // A chunked session per node, half filled concurrently; then all of them closed at the same moment,
      // together with a monolithic push through each node, so that six commits of one digest race.
      const sessions = await Promise.all(ALL.map((index) => startSession(node(index).url, repo)));
      const patched = await Promise.all(
        sessions.map((session, index) =>
          patchChunk(node(index).url, session.location, layer.subarray(0, half), 0),
        ),
      );
      for (const reply of patched) expect(reply.status, describeReply(reply)).toBe(202);
      const pushes = await Promise.all([
        ...sessions.map((session, index) =>
          send(node(index).url, 'PUT', withDigest(session.location, digest), {
            headers: { 'content-range': `${half}-${layer.length - 1}` },
            body: layer.subarray(half),
          }),
        ),
        ...ALL.map((index) => pushBlob(node(index).url, repo, layer)),
      ]);
      for (const [i, reply] of pushes.entries()) {
        expect(reply.status, `push ${i}: ${describeReply(reply)}`).toBe(201);
        expect(reply.headers['docker-content-digest']).toBe(digest);
      }

      await expectBlobOnEveryNode(repo, layer);
      expect(await storedCopies(digest)).toEqual([layer.length]);
      expect(await uploadObjects()).toEqual(uploadsBefore);
      const blobs = await cluster.query<{ size: string }>('select size from blobs where digest = $1', [
        digest,
      ]);
      expect(blobs.map((row) => Number(row.size))).toEqual([layer.length]);
      const links = await cluster.query(
        'select 1 from repository_blobs l join repositories r on r.id = l.repository_id where r.name = $1 and l.digest = $2',
        [repo, digest],
      );
      expect(links).toHaveLength(1);
      const sessionRows = await cluster.query('select id from uploads where id = any($1)', [
        sessions.map((session) => session.id),
      ]);
      expect(sessionRows).toHaveLength(0);
    });

    it('distinct layers pushed through the three nodes at once are all stored, and a manifest on any node sees them', async () => {
      const repo = uniqueRepo('cluster');
      const layers = Array.from({ length: 6 }, (_, i) => randomBytes(2 * MiB + i));
      const pushes = await Promise.all(layers.map((layer, i) => pushBlob(node(i % 3).url, repo, layer)));
      for (const reply of pushes) expect(reply.status, describeReply(reply)).toBe(201);
      for (const layer of layers) {
        await expectBlobOnEveryNode(repo, layer);
        expect(await storedCopies(sha256(layer))).toEqual([layer.length]);
      }
      // Node 3 accepts a manifest whose blobs nodes 1 and 2 pushed: the links are in the shared database.
      const image = buildImage({ layers: 0 });
      await client(2).pushBlob(repo, image.config);
      const json = {
        ...image.json,
        layers: layers.map((layer) => ({
          mediaType: MT.ociLayer,
          digest: sha256(layer),
          size: layer.length,
        })),
      };
      const manifest = Buffer.from(JSON.stringify(json));
      await client(2).putManifest(repo, 'all-layers', manifest, MT.ociManifest);
      for (const index of ALL) {
        const reply = await getManifest(index, repo, 'all-layers');
        expect(reply.headers['docker-content-digest']).toBe(sha256(manifest));
      }
    });

    // Two requests writing the same chunk of one session on different nodes: the first to claim the
    // session's write lease writes; the other waits for the lease, finds the offset moved or the lease still
    // held, and is refused (416) before writing a byte. Without the lease, the loser's bytes landed in the
    // shared temporary object and the winner closed the upload with its stale running hash.
    it('two nodes writing the same chunk of one upload: the second is refused before it writes a byte', async () => {
      const repo = uniqueRepo('cluster');
      const first = randomBytes(256 * 1024);
      const second = randomBytes(first.length);
      const { location } = await startSession(node(0).url, repo);

      // Node 2 takes a PATCH at offset 0, claims the session and waits for the body...
      const holder = openRequest(node(1).url, 'PATCH', location, {
        'content-type': 'application/octet-stream',
        'content-range': `0-${first.length - 1}`,
        'content-length': first.length,
      });
      await waitFor('node 2 to start writing', async () => {
        const metrics = await send(node(1).url, 'GET', '/metrics');
        return /^berth_uploads_in_flight 1$/m.test(metrics.body.toString('utf8'));
      });
      // ...while node 1 is sent the same chunk with other bytes: it waits for the lease, then gives up.
      const refused = await patchChunk(node(0).url, location, second, 0);
      expect(refused.status, describeReply(refused)).toBe(416);
      const written = await holder.end(first);
      expect(written.status, describeReply(written)).toBe(202);

      // The session holds exactly the holder's bytes: closing it under their digest, on the refused node,
      // stores them; nothing of the refused request's bytes can be in there.
      const done = await send(node(0).url, 'PUT', withDigest(location, sha256(first)));
      expect(done.status, describeReply(done)).toBe(201);
      await expectBlobOnEveryNode(repo, first);
    });

    it('a node killed (kill -9) in the middle of a PATCH: another node reports the offset and the upload resumes there', async () => {
      const repo = uniqueRepo('cluster');
      const chunk1 = randomBytes(MiB + 3);
      const chunk2 = randomBytes(2 * MiB + 1);
      const blob = Buffer.concat([chunk1, chunk2]);
      const victim = node(0);
      try {
        const { location, id } = await startSession(victim.url, repo);
        const first = await patchChunk(victim.url, location, chunk1, 0);
        expect(first.status, describeReply(first)).toBe(202);

        // Half of chunk 2, then the node dies with the request open.
        const received = await counter(victim, 'berth_http_request_bytes_total');
        const second = openRequest(victim.url, 'PATCH', location, {
          'content-type': 'application/octet-stream',
          'content-range': `${chunk1.length}-${blob.length - 1}`,
          'content-length': chunk2.length,
        });
        await second.write(chunk2.subarray(0, MiB));
        await waitFor(
          'node 1 to take in part of chunk 2',
          async () => (await counter(victim, 'berth_http_request_bytes_total')) >= received + MiB / 2,
        );
        if (cluster.storage.partialWritesVisible) {
          // Bytes past the acknowledged offset are in the shared temporary object: the resume must drop them.
          await waitFor('part of chunk 2 to reach the shared store', async () => {
            const objects = await cluster.storage.objects();
            const temp = objects.find((object) => object.key === `uploads/${id}`);
            return (temp?.size ?? 0) > chunk1.length;
          });
        }
        await victim.kill('SIGKILL');
        expect(victim.process.signalCode).toBe('SIGKILL');
        await expect(second.reply).rejects.toThrow();

        // The client turns to node 2: where does the upload stand?
        const status = await send(node(1).url, 'GET', location);
        expect(status.status, describeReply(status)).toBe(204);
        expect(status.headers['docker-upload-uuid']).toBe(id);
        const range = /^0-(\d+)$/.exec(String(status.headers.range));
        expect(range, `Range: ${status.headers.range}`).not.toBeNull();
        const offset = Number(range?.[1]) + 1;
        expect(offset).toBe(chunk1.length);
        expect((await getBlob(node(1).url, repo, sha256(blob), 'HEAD')).status).toBe(404);

        const resumed = await patchChunk(node(1).url, location, blob.subarray(offset), offset);
        expect(resumed.status, describeReply(resumed)).toBe(202);
        expect(resumed.headers.range).toBe(`0-${blob.length - 1}`);
        const done = await send(node(1).url, 'PUT', withDigest(location, sha256(blob)));
        expect(done.status, describeReply(done)).toBe(201);
        for (const index of [1, 2]) {
          const reply = await getBlob(node(index).url, repo, sha256(blob));
          expect(reply.status, describeReply(reply)).toBe(200);
          expect(reply.body.equals(blob), `node ${index + 1}`).toBe(true);
        }
        expect(await storedCopies(sha256(blob))).toEqual([blob.length]);
      } finally {
        // A node that comes back (same data directory, nothing of its own in it) serves everything at once.
        await cluster.restart(0);
      }
      await expectBlobOnEveryNode(repo, blob);
    });

    // That cluster-wide jobs (the upload purge) run on one node at a time is the advisory lock's job:
    // test/metadata/postgres.test.ts tests PostgresJobLock directly.
  });
}
