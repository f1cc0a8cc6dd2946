// Content discovery: GET /v2/<name>/tags/list (end-8a) with n/last pagination (end-8b), and the tag grammar.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type BuiltImage,
  expectOciError,
  mediaTypeOf,
  type OciClient,
  uniqueRepo,
} from '../helpers/oci-client.js';
import { startBerthWithClient } from '../helpers/server.js';

let client: OciClient;
startBerthWithClient((started) => {
  client = started.client;
});

interface TagList {
  name: string;
  tags: string[];
}

async function list(path: string): Promise<{ res: Response; body: TagList }> {
  const res = await client.get(path);
  expect(res.status, path).toBe(200);
  return { res, body: (await res.json()) as TagList };
}

describe('GET /v2/<name>/tags/list', () => {
  const repo = uniqueRepo('tags');
  // Lower-case letters and digits only, so byte order and case-insensitive order agree.
  const pushed = ['v2', 'latest', 'v10', 'a', 'beta', 'v1'];
  const sorted = ['a', 'beta', 'latest', 'v1', 'v10', 'v2'];

  beforeAll(async () => {
    const image = await client.pushRandomImage(repo, pushed[0]);
    for (const tag of pushed.slice(1)) await client.putManifest(repo, tag, image.manifest, image.mediaType);
  });

  it('returns {name, tags} with the tags in lexical order', async () => {
    const { res, body } = await list(`/v2/${repo}/tags/list`);
    expect(mediaTypeOf(res)).toBe('application/json');
    expect(body).toEqual({ name: repo, tags: sorted });
  });

  it('?n=2 → the first two tags and a Link to the next page', async () => {
    const { res, body } = await list(`/v2/${repo}/tags/list?n=2`);
    expect(body.tags).toEqual(['a', 'beta']);
    expect(res.headers.get('link')).toBe(`</v2/${repo}/tags/list?n=2&last=beta>; rel="next"`);
  });

  it('?n=2&last=X → the two tags after X', async () => {
    const { res, body } = await list(`/v2/${repo}/tags/list?n=2&last=beta`);
    expect(body.tags).toEqual(['latest', 'v1']);
    expect(res.headers.get('link')).toBe(`</v2/${repo}/tags/list?n=2&last=v1>; rel="next"`);
  });

  it('the last page has no Link header', async () => {
    const { res, body } = await list(`/v2/${repo}/tags/list?n=2&last=v1`);
    expect(body.tags).toEqual(['v10', 'v2']);
    expect(res.headers.get('link')).toBeNull();
  });

  it('following the Link headers visits every tag once', async () => {
    const seen: string[] = [];
    let next: string | null = `/v2/${repo}/tags/list?n=4`;
    while (next) {
      const { res, body } = await list(next);
      seen.push(...body.tags);
      const link = res.headers.get('link');
      next = link ? (/^<([^>]+)>;\s*rel="next"$/.exec(link)?.[1] ?? null) : null;
      expect(seen.length).toBeLessThanOrEqual(sorted.length);
    }
    expect(seen).toEqual(sorted);
  });

  it('lists mixed-case and punctuated tags in byte order, as every backend must', async () => {
    const other = uniqueRepo('tags-bytes');
    const tags = ['b', 'B', 'a-c', 'ab', 'a.d', 'a_b', 'A', '_z', '9'];
    const image = await client.pushRandomImage(other, tags[0]);
    for (const tag of tags.slice(1)) await client.putManifest(other, tag, image.manifest, image.mediaType);
    const { body } = await list(`/v2/${other}/tags/list`);
    expect(body.tags).toEqual(['9', 'A', 'B', '_z', 'a-c', 'a.d', 'a_b', 'ab', 'b']);
    const paged: string[] = [];
    for (let last: string | undefined; ; ) {
      const page = await list(`/v2/${other}/tags/list?n=2${last ? `&last=${last}` : ''}`);
      paged.push(...page.body.tags);
      if (page.body.tags.length < 2) break;
      last = page.body.tags.at(-1);
    }
    expect(paged).toEqual(body.tags);
  });

  it('?n larger than the list → everything, no Link', async () => {
    const { res, body } = await list(`/v2/${repo}/tags/list?n=100`);
    expect(body.tags).toEqual(sorted);
    expect(res.headers.get('link')).toBeNull();
  });

  it('?n=0 → an empty list and no Link ("When n is zero, this endpoint MUST return an empty list")', async () => {
    const { res, body } = await list(`/v2/${repo}/tags/list?n=0`);
    expect(body.tags).toEqual([]);
    expect(res.headers.get('link')).toBeNull();
  });

  it('?last=X without n → every tag after X', async () => {
    const { body } = await list(`/v2/${repo}/tags/list?last=latest`);
    expect(body.tags).toEqual(['v1', 'v10', 'v2']);
  });

  it('?last=<the last tag> → an empty list', async () => {
    const { res, body } = await list(`/v2/${repo}/tags/list?n=2&last=v2`);
    expect(body.tags).toEqual([]);
    expect(res.headers.get('link')).toBeNull();
  });

  it('reflects a tag added after the list was read (no stale cached list)', async () => {
    const extra = uniqueRepo('tags-fresh');
    const image = await client.pushRandomImage(extra, 'one');
    expect((await list(`/v2/${extra}/tags/list`)).body.tags).toEqual(['one']);
    await client.putManifest(extra, 'two', image.manifest, image.mediaType);
    expect((await list(`/v2/${extra}/tags/list`)).body.tags).toEqual(['one', 'two']);
    expect((await list(`/v2/${extra}/tags/list?last=one`)).body.tags).toEqual(['two']);
    expect((await client.delete(`/v2/${extra}/manifests/${image.digest}`)).status).toBe(202);
    expect((await list(`/v2/${extra}/tags/list`)).body.tags).toEqual([]);
  });

  it('reflects tag deletion', async () => {
    const other = uniqueRepo('tags');
    const image = await client.pushRandomImage(other, 'one');
    await client.putManifest(other, 'two', image.manifest, image.mediaType);
    expect((await client.delete(`/v2/${other}/manifests/one`)).status).toBe(202);
    expect((await list(`/v2/${other}/tags/list`)).body.tags).toEqual(['two']);
  });

  it('a repository whose manifests have no tags → 200 with an empty tags array', async () => {
    const other = uniqueRepo('tags');
    await client.pushRandomImage(other);
    const { body } = await list(`/v2/${other}/tags/list`);
    expect(body).toEqual({ name: other, tags: [] });
  });

  it('unknown repository → 404 NAME_UNKNOWN', async () => {
    await expectOciError(await client.get(`/v2/${uniqueRepo('ghost')}/tags/list`), 404, 'NAME_UNKNOWN');
  });

  it('invalid repository name → 400 NAME_INVALID', async () => {
    await expectOciError(await client.get('/v2/Bad/Name/tags/list'), 400, 'NAME_INVALID');
  });
});

describe('tag grammar [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}', () => {
  const repo = uniqueRepo('taggrammar');
  let image: BuiltImage;

  beforeAll(async () => {
    image = await client.pushRandomImage(repo, 'seed');
  });

  const valid = [
    'x',
    '_',
    '0',
    'UPPER',
    'v1.2.3',
    'a-b_c.d',
    '_leading',
    'x'.repeat(128),
    `A${'.'.repeat(127)}`,
  ];
  it.each(valid.map((t) => [t.length > 20 ? `${t.slice(0, 12)}…(${t.length})` : t, t]))(
    'accepts %s',
    async (_, tag) => {
      await client.putManifest(repo, tag, image.manifest, image.mediaType);
      const res = await client.get(`/v2/${repo}/manifests/${tag}`, { accept: image.mediaType });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    },
  );

  const invalid = ['.dot', '-dash', 'x'.repeat(129), 'a+b', 'a%20b', 'a!', 'caf%C3%A9', 'a,b', 'a@b'];
  it.each(invalid.map((t) => [t.length > 20 ? `${t.slice(0, 12)}…(${t.length})` : t, t]))(
    'PUT rejects %s with 400 MANIFEST_INVALID',
    async (_, tag) => {
      const res = await client.pushManifest(repo, tag, image.manifest, image.mediaType);
      await expectOciError(res, 400, 'MANIFEST_INVALID');
    },
  );

  it.each(invalid.map((t) => [t.length > 20 ? `${t.slice(0, 12)}…(${t.length})` : t, t]))(
    'GET of %s → 404 MANIFEST_UNKNOWN or 400',
    async (_, tag) => {
      const res = await client.get(`/v2/${repo}/manifests/${tag}`);
      await expectOciError(
        res,
        [400, 404],
        ['MANIFEST_UNKNOWN', 'MANIFEST_INVALID', 'TAG_INVALID', 'NAME_INVALID'],
      );
    },
  );

  it('tags are case-sensitive', async () => {
    const other = uniqueRepo('taggrammar');
    const lower = await client.pushRandomImage(other, 'tag');
    const upper = await client.pushRandomImage(other, 'TAG');
    const a = await client.get(`/v2/${other}/manifests/tag`, { accept: lower.mediaType });
    const b = await client.get(`/v2/${other}/manifests/TAG`, { accept: upper.mediaType });
    expect(a.headers.get('docker-content-digest')).toBe(lower.digest);
    expect(b.headers.get('docker-content-digest')).toBe(upper.digest);
    expect((await client.tags(other)).sort()).toEqual(['TAG', 'tag']);
  });
});
