// Tag immutability over HTTP: under a rule, a pushed tag is never moved or deleted (tag DELETE, or manifest
// DELETE by digest while the tag points at it): DENIED with a message naming the rule. Creating a tag and
// pushing the same digest again are allowed. Rules are managed through /api/v1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthorization } from '../../src/auth/index.js';
import { buildImage, OciClient } from '../helpers/oci-client.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

const ADMIN = basicAuthorization('admin', 'lifecycle admin password');

let server: TestBerth;
let client: OciClient;
let counter = 0;
const repoIn = (project: string) => `${project}/app${++counter}`;

async function api(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: ADMIN, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
}

async function addRule(project: string, repositoryPattern: string, tagPattern: string): Promise<number> {
  const res = await api('POST', `/projects/${project}/immutability`, { repositoryPattern, tagPattern });
  const body = (await res.json()) as { id: number };
  expect(res.status, JSON.stringify(body)).toBe(201);
  return body.id;
}

/** The exact error body of a refused change to `tag`. */
function immutable(
  repo: string,
  tag: string,
  rule: { id: number; repository: string; tag: string },
  manifest?: string,
) {
  const why = `tag ${tag} of ${repo} is immutable (rule ${rule.id}: repository "${rule.repository}", tag "${rule.tag}")`;
  return {
    errors: [
      {
        code: 'DENIED',
        message: manifest ? `manifest ${manifest} cannot be deleted: ${why}` : why,
        detail: {
          repository: repo,
          tag,
          ...(manifest && { manifest }),
          rule: { id: rule.id, repositoryPattern: rule.repository, tagPattern: rule.tag },
        },
      },
    ],
  };
}

async function digestOfTag(repo: string, tag: string): Promise<string | null> {
  const res = await client.head(`/v2/${repo}/manifests/${tag}`, {
    accept: 'application/vnd.oci.image.manifest.v1+json',
  });
  return res.status === 200 ? res.headers.get('docker-content-digest') : null;
}

beforeAll(async () => {
  server = await startBerth();
  client = new OciClient(server.url);
  await server.berth.accounts.setPassword('admin', 'lifecycle admin password');
  for (const name of ['imm', 'free']) await server.berth.accounts.createProject({ name });
});
afterAll(() => server?.close());

describe('tag immutability', () => {
  let rule: { id: number; repository: string; tag: string };
  beforeAll(async () => {
    rule = { id: await addRule('imm', 'imm/**', 'v*'), repository: 'imm/**', tag: 'v*' };
  });

  it('refuses to move a protected tag to another digest, and keeps it where it was', async () => {
    const repo = repoIn('imm');
    const first = await client.pushRandomImage(repo, 'v1.0');
    const second = buildImage();
    await client.pushImage(repo, second, second.digest);
    const res = await client.pushManifest(repo, 'v1.0', second.manifest, second.mediaType);
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual(immutable(repo, 'v1.0', rule));
    expect(await digestOfTag(repo, 'v1.0')).toBe(first.digest);
  });

  it('refuses a move even when the refused manifest was never stored, and stores nothing of it', async () => {
    const repo = repoIn('imm');
    await client.pushRandomImage(repo, 'v2');
    const other = buildImage();
    await client.pushBlob(repo, other.config);
    for (const layer of other.layers) await client.pushBlob(repo, layer);
    const res = await client.pushManifest(repo, 'v2', other.manifest, other.mediaType);
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual(immutable(repo, 'v2', rule));
    expect((await client.head(`/v2/${repo}/manifests/${other.digest}`)).status).toBe(404);
  });

  it('lets exactly one of several concurrent first pushes of a protected tag create it', async () => {
    const repo = repoIn('imm');
    const images = Array.from({ length: 8 }, () => buildImage());
    for (const image of images) await client.pushImage(repo, image, image.digest);
    const results = await Promise.all(
      images.map((image) => client.pushManifest(repo, 'v9', image.manifest, image.mediaType)),
    );
    const statuses = results.map((res) => res.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    expect(statuses.filter((status) => status === 403)).toHaveLength(7);
    const winner = images[statuses.indexOf(201)];
    expect(await digestOfTag(repo, 'v9')).toBe(winner?.digest);
    for (const res of results) await res.arrayBuffer();
  });

  it('lets the same digest be pushed again under the tag', async () => {
    const repo = repoIn('imm');
    const image = await client.pushRandomImage(repo, 'v1.1');
    const res = await client.pushManifest(repo, 'v1.1', image.manifest, image.mediaType);
    await res.arrayBuffer();
    expect(res.status).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(image.digest);
    expect(await digestOfTag(repo, 'v1.1')).toBe(image.digest);
  });

  it('lets new protected tags be created, on a manifest that has some already', async () => {
    const repo = repoIn('imm');
    const image = await client.pushRandomImage(repo, 'v3');
    await client.putManifest(repo, 'v3.0', image.manifest, image.mediaType);
    expect(await digestOfTag(repo, 'v3.0')).toBe(image.digest);
  });

  it('leaves tags outside the rule free to move and go', async () => {
    const repo = repoIn('imm');
    await client.pushRandomImage(repo, 'latest');
    const next = await client.pushRandomImage(repo, 'latest');
    expect(await digestOfTag(repo, 'latest')).toBe(next.digest);
    const res = await client.delete(`/v2/${repo}/manifests/latest`);
    expect(res.status).toBe(202);
  });

  it('refuses to delete a protected tag', async () => {
    const repo = repoIn('imm');
    const image = await client.pushRandomImage(repo, 'v4');
    const res = await client.delete(`/v2/${repo}/manifests/v4`);
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual(immutable(repo, 'v4', rule));
    expect(await digestOfTag(repo, 'v4')).toBe(image.digest);
  });

  it('answers MANIFEST_UNKNOWN, not DENIED, for a protected tag that does not exist', async () => {
    const repo = repoIn('imm');
    await client.pushRandomImage(repo, 'v5');
    const res = await client.delete(`/v2/${repo}/manifests/v6`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('MANIFEST_UNKNOWN');
  });

  it('refuses to delete a manifest by digest while a protected tag points at it', async () => {
    const repo = repoIn('imm');
    const image = await client.pushRandomImage(repo, 'latest');
    await client.putManifest(repo, 'v7', image.manifest, image.mediaType);
    const res = await client.delete(`/v2/${repo}/manifests/${image.digest}`);
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual(immutable(repo, 'v7', rule, image.digest));
    expect(await digestOfTag(repo, 'v7')).toBe(image.digest);
    expect(await digestOfTag(repo, 'latest')).toBe(image.digest);
  });

  it('lets manifests without protected tags be deleted by digest', async () => {
    const repo = repoIn('imm');
    const image = await client.pushRandomImage(repo, 'latest');
    const res = await client.delete(`/v2/${repo}/manifests/${image.digest}`);
    expect(res.status).toBe(202);
    expect(await digestOfTag(repo, 'latest')).toBeNull();
  });

  it('applies a rule to the repositories and tags its globs name only', async () => {
    const id = await addRule('free', 'free/*/db', 'release-?');
    const narrow = { id, repository: 'free/*/db', tag: 'release-?' };
    const db = `free/x${++counter}/db`;
    await client.pushRandomImage(db, 'release-1');
    await client.pushRandomImage(db, 'release-10');
    const moved = await client.pushRandomImage(db, 'release-10');
    expect(await digestOfTag(db, 'release-10')).toBe(moved.digest);
    const again = buildImage();
    await client.pushImage(db, again, again.digest);
    const res = await client.pushManifest(db, 'release-1', again.manifest, again.mediaType);
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual(immutable(db, 'release-1', narrow));
    // Not this repository (another depth), not another project.
    const deeper = `free/x${counter}/y/db`;
    await client.pushRandomImage(deeper, 'release-1');
    await client.pushRandomImage(deeper, 'release-1');
    await client.pushRandomImage(`imm/x${counter}/db`, 'release-1');
    await client.pushRandomImage(`imm/x${counter}/db`, 'release-1');
  });

  it('stops protecting once the rule is removed through the API', async () => {
    await server.berth.accounts.createProject({ name: 'brief' });
    const id = await addRule('brief', 'brief/app', '*');
    const list = await api('GET', '/projects/brief/immutability');
    expect(await list.json()).toEqual({
      items: [
        {
          id,
          project: 'brief',
          repositoryPattern: 'brief/app',
          tagPattern: '*',
          createdAt: expect.any(Number),
        },
      ],
    });
    await client.pushRandomImage('brief/app', 'stable');
    const refused = await client.pushManifest(
      'brief/app',
      'stable',
      ...manifestOf(await pushed('brief/app')),
    );
    expect(refused.status).toBe(403);
    await refused.arrayBuffer();
    const removed = await api('DELETE', `/projects/brief/immutability/${id}`);
    expect(removed.status).toBe(204);
    const image = await pushed('brief/app');
    await client.putManifest('brief/app', 'stable', ...manifestOf(image));
    expect(await digestOfTag('brief/app', 'stable')).toBe(image.digest);
    expect((await client.delete('/v2/brief/app/manifests/stable')).status).toBe(202);
    const gone = await api('DELETE', `/projects/brief/immutability/${id}`);
    expect(gone.status).toBe(404);
  });

  it('audits rule changes', async () => {
    const added = await server.berth.audit.query({
      action: 'immutability.add',
      resourcePrefix: 'brief',
      limit: 10,
    });
    const removed = await server.berth.audit.query({ action: 'immutability.remove', limit: 10 });
    expect(
      added.map((e) => [e.resource, e.actor, e.result, JSON.parse(e.detail ?? '{}').repositoryPattern]),
    ).toEqual([['brief', 'admin', 'success', 'brief/app']]);
    // Newest first: the second removal found no rule.
    expect(removed.map((e) => [e.resource, e.result])).toEqual([
      ['brief', 'failure'],
      ['brief', 'success'],
    ]);
  });
});

/** Pushes the blobs of a fresh image by digest (no tag) and returns it. */
async function pushed(repo: string) {
  const image = buildImage();
  await client.pushImage(repo, image, image.digest);
  return image;
}

function manifestOf(image: { manifest: Buffer; mediaType: string }): [Buffer, string] {
  return [image.manifest, image.mediaType];
}
