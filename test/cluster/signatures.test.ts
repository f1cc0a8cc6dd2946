// Signature enforcement across nodes sharing PostgreSQL: a node that cached "unsigned, refused" serves the image
// once a signature is pushed through another node, and refuses it again once trust in the key is removed there
// (the verification caches hear both through LISTEN/NOTIFY).
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../fault/support.js';
import type { ChildBerth } from '../helpers/child-server.js';
import { type Cluster, startCluster, storageBackends } from '../helpers/cluster.js';
import { buildImage, descriptorOf, jsonBytes, MT, OciClient } from '../helpers/oci-client.js';
import { postgresAvailable } from '../helpers/postgres.js';

const ADMIN_PASSWORD = 'cluster signatures admin';
const ADMIN = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;
const backend = (await storageBackends()).find((candidate) => !candidate.unavailable);

describe.skipIf(!postgresAvailable || !backend)('signatures.required across nodes', () => {
  let cluster: Cluster;
  const node = (index: number): ChildBerth => cluster.nodes[index] as ChildBerth;

  beforeAll(async () => {
    cluster = await startCluster(backend as NonNullable<typeof backend>, {
      nodes: 2,
      env: { BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
  }, 60_000);
  afterAll(() => cluster?.destroy());

  async function api(index: number, method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${node(index).url}/api/v1${path}`, {
      method,
      headers: { authorization: ADMIN, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  }

  const status = async (index: number, path: string) => {
    const res = await fetch(`${node(index).url}${path}`, { headers: { accept: MT.ociManifest } });
    await res.arrayBuffer();
    return res.status;
  };

  it('a signature pushed through one node, and a key removed through it, reach the other node', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect((await api(0, 'POST', '/projects', { name: 'team' })).status).toBe(201);
    const added = await api(0, 'POST', '/projects/team/trust/keys', {
      name: 'ci',
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    });
    const key = (await added.json()) as { id: number };
    expect((await api(0, 'PUT', '/projects/team/trust/policy', { required: 'enforce' })).status).toBe(200);

    const a = new OciClient(node(0).url);
    const image = await a.pushImage('team/app', buildImage(), 'v1');
    const path = '/v2/team/app/manifests/v1';
    // Node 1 assesses the image (and caches the answer) before there is a signature.
    await waitFor('node 1 refusing the unsigned image', async () => (await status(1, path)) === 403);

    // cosign's tag scheme, as cosign writes it: a simple-signing payload, ECDSA P-256 over its SHA-256.
    const payload = jsonBytes({
      critical: {
        identity: { 'docker-reference': `127.0.0.1:${node(0).port}/team/app` },
        image: { 'docker-manifest-digest': image.digest },
        type: 'cosign container image signature',
      },
      optional: null,
    });
    const config = jsonBytes({
      architecture: '',
      os: '',
      rootfs: { type: 'layers', diff_ids: [] },
      config: {},
    });
    await a.pushBlob('team/app', payload);
    await a.pushBlob('team/app', config);
    const signature = jsonBytes({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: descriptorOf(MT.ociConfig, config),
      layers: [
        {
          ...descriptorOf('application/vnd.dev.cosign.simplesigning.v1+json', payload),
          annotations: {
            'dev.cosignproject.cosign/signature': sign('sha256', payload, privateKey).toString('base64'),
          },
        },
      ],
    });
    const tag = `sha256-${createHash('sha256').update(image.manifest).digest('hex')}.sig`;
    await a.putManifest('team/app', tag, signature, MT.ociManifest);
    expect(await status(0, path)).toBe(200);
    await waitFor('node 1 serving the signed image', async () => (await status(1, path)) === 200);

    expect((await api(0, 'DELETE', `/projects/team/trust/keys/${key.id}`)).status).toBe(204);
    expect(await status(0, path)).toBe(403);
    await waitFor('node 1 refusing once the key is gone', async () => (await status(1, path)) === 403);
  }, 60_000);
});
