// The manifest GET hot path on PostgreSQL costs no query: each node caches project access facts, tag → digest
// lookups and manifests, and hears other nodes' changes over LISTEN/NOTIFY. Two `berth serve` processes on one
// PostgreSQL database: whatever one node changes, the other must serve once the NOTIFY arrives, and the writer
// at once (read-your-writes). The lag is logged, not asserted: this machine is shared and can starve a node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../fault/support.js';
import type { ChildBerth } from '../helpers/child-server.js';
import { type Cluster, sharedFilesystemBackend, startCluster } from '../helpers/cluster.js';
import { type BuiltImage, buildImage, MT } from '../helpers/oci-client.js';
import { postgresAvailable } from '../helpers/postgres.js';
import { describeReply, send } from '../helpers/raw-http.js';

const ADMIN_PASSWORD = 'hot path caches admin password';
const admin = { authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}` };
/** Generous: a starved node may take long to read its socket; the measured lag is logged. */
const CONVERGE_MS = 20_000;

describe.skipIf(!postgresAvailable)('caches across two nodes on one PostgreSQL database', () => {
  let cluster: Cluster;
  const node = (index: number): ChildBerth => {
    const found = cluster.nodes[index];
    if (!found) throw new Error(`no node ${index}`);
    return found;
  };

  beforeAll(async () => {
    cluster = await startCluster(sharedFilesystemBackend, {
      nodes: 2,
      env: { BERTH_AUTH_ENABLED: 'true', BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
  }, 60_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  async function createProject(name: string, isPublic: boolean): Promise<void> {
    const reply = await send(node(0).url, 'POST', '/api/v1/projects', {
      headers: { ...admin, 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ name, public: isPublic })),
    });
    expect(reply.status, describeReply(reply)).toBe(201);
  }

  async function setPublic(index: number, project: string, isPublic: boolean): Promise<void> {
    const reply = await send(node(index).url, 'PATCH', `/api/v1/projects/${project}`, {
      headers: { ...admin, 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ public: isPublic })),
    });
    expect(reply.status, describeReply(reply)).toBe(200);
  }

  async function push(index: number, repo: string, image: BuiltImage, reference = image.digest) {
    for (const blob of [image.config, ...image.layers]) {
      const { createHash } = await import('node:crypto');
      const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
      const reply = await send(node(index).url, 'POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
        headers: admin,
        body: blob,
      });
      expect(reply.status, describeReply(reply)).toBe(201);
    }
    const put = await send(node(index).url, 'PUT', `/v2/${repo}/manifests/${reference}`, {
      headers: { ...admin, 'content-type': image.mediaType },
      body: image.manifest,
    });
    expect(put.status, describeReply(put)).toBe(201);
  }

  /** An anonymous GET (the project's visibility decides), or one as admin. */
  function get(index: number, repo: string, reference: string, asAdmin = false) {
    return send(node(index).url, 'GET', `/v2/${repo}/manifests/${reference}`, {
      headers: { accept: MT.ociManifest, ...(asAdmin && admin) },
    });
  }

  const digestOn = async (index: number, repo: string, reference: string) => {
    const reply = await get(index, repo, reference);
    return reply.status === 200 ? reply.headers['docker-content-digest'] : `HTTP ${reply.status}`;
  };

  /** Polls node `index` until `check` holds; returns how long that took after `since`. */
  async function converge(what: string, since: number, check: () => Promise<boolean>): Promise<number> {
    await waitFor(what, check, CONVERGE_MS);
    const lag = Date.now() - since;
    console.info(`hot-path caches: ${what}: ${lag} ms`);
    return lag;
  }

  it('a tag moved or deleted on node 1 is served so on node 1 at once and on node 2 once the NOTIFY arrives', async () => {
    const project = 'hotcache-tags';
    await createProject(project, true);
    const repo = `${project}/app`;
    const images = [1, 2, 3].map(() => buildImage({ layers: 1, layerSize: 256 }));
    for (const image of images) await push(0, repo, image);
    const [first, second, third] = images as [BuiltImage, BuiltImage, BuiltImage];
    await push(0, repo, first, 'latest');

    for (const target of [second, third]) {
      // Both nodes read the tag twice: the second answer comes from their caches.
      for (const index of [0, 1]) {
        for (let i = 0; i < 2; i++) expect(await digestOn(index, repo, 'latest')).not.toBe(target.digest);
      }
      const moved = Date.now();
      await push(0, repo, target, 'latest');
      expect(await digestOn(0, repo, 'latest'), 'the writer reads its own write').toBe(target.digest);
      await converge(`node 2 serves the moved tag`, moved, async () => {
        return (await digestOn(1, repo, 'latest')) === target.digest;
      });
      // And keeps serving it (the cache was not refilled with the old answer).
      for (let i = 0; i < 5; i++) expect(await digestOn(1, repo, 'latest')).toBe(target.digest);
    }

    // The same through node 2, the other way round.
    await push(1, repo, second, 'latest');
    expect(await digestOn(1, repo, 'latest')).toBe(second.digest);
    await converge('node 1 serves the tag moved through node 2', Date.now(), async () => {
      return (await digestOn(0, repo, 'latest')) === second.digest;
    });

    const deleted = await send(node(0).url, 'DELETE', `/v2/${repo}/manifests/latest`, { headers: admin });
    expect(deleted.status, describeReply(deleted)).toBe(202);
    expect((await get(0, repo, 'latest')).status, 'the writer').toBe(404);
    await converge('node 2 forgets the deleted tag', Date.now(), async () => {
      return (await get(1, repo, 'latest')).status === 404;
    });
  });

  it('a project made private on one node refuses anonymous pulls there at once and on the other once told', async () => {
    const project = 'hotcache-visibility';
    await createProject(project, true);
    const repo = `${project}/app`;
    const image = buildImage({ layers: 1, layerSize: 256 });
    await push(0, repo, image, 'v1');
    for (const index of [0, 1]) {
      for (let i = 0; i < 2; i++)
        expect((await get(index, repo, 'v1')).status, `node ${index + 1}`).toBe(200);
    }

    const hidden = Date.now();
    await setPublic(0, project, false);
    expect((await get(0, repo, 'v1')).status, 'the writer').toBe(401);
    await converge('node 2 refuses anonymous pulls of the now private project', hidden, async () => {
      return (await get(1, repo, 'v1')).status === 401;
    });
    // Members still pull.
    expect((await get(1, repo, 'v1', true)).status).toBe(200);

    // Public again, this time through node 2.
    await setPublic(1, project, true);
    expect((await get(1, repo, 'v1')).status).toBe(200);
    await converge('node 1 lets anonymous pulls of the public project again', Date.now(), async () => {
      return (await get(0, repo, 'v1')).status === 200;
    });
  });

  it('after its change feed was cut, a node serves what changed meanwhile (it forgets everything on reconnecting)', async () => {
    const project = 'hotcache-feed';
    await createProject(project, true);
    const repo = `${project}/app`;
    const images = [1, 2].map(() => buildImage({ layers: 1, layerSize: 256 }));
    for (const image of images) await push(0, repo, image);
    const [first, second] = images as [BuiltImage, BuiltImage];
    await push(0, repo, first, 'latest');
    for (let i = 0; i < 2; i++) {
      expect(await digestOn(1, repo, 'latest')).toBe(first.digest);
      expect((await get(1, repo, 'latest')).status).toBe(200);
    }
    await waitFor('both nodes to listen', async () => (await cluster.changeFeeds()).length === 2, 10_000);

    // The feeds go down and the changes are made at once: their NOTIFYs may well be lost on node 2.
    await cluster.cutChangeFeeds();
    await push(0, repo, second, 'latest');
    await setPublic(0, project, false);

    const changed = Date.now();
    await converge('node 2 refuses anonymous pulls after its feed was cut', changed, async () => {
      return (await get(1, repo, 'latest')).status === 401;
    });
    await converge('node 2 serves the tag moved while its feed was cut', changed, async () => {
      const reply = await get(1, repo, 'latest', true);
      return reply.headers['docker-content-digest'] === second.digest;
    });
    await waitFor(
      'both nodes to listen again',
      async () => (await cluster.changeFeeds()).length === 2,
      10_000,
    );
  });
});
