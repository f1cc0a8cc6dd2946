// Keyset pagination at size (issue 17): every tag, repository and artifact comes exactly once and in order when
// a client walks thousands of them page by page, on SQLite and (the postgres project) PostgreSQL. Rows are
// inserted in bulk through the metadata database, as bench/listings.ts does, not pushed.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Insertable, Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/metadata/index.js';
import { createTestDatabase, dropTestDatabase, testMetadata } from '../helpers/postgres.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const TAGS = 10_000;
const ARTIFACTS = 2_500;
const PRIVATE_REPOSITORIES = 2_500;

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function manifest(i: number) {
  const content = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: {},
      layers: [],
      annotations: { i: `${i}` },
    }),
  );
  return { content, digest: `sha256:${sha256(content)}` };
}

/**
 * Tag names that use every kind of character the grammar allows, so byte order (`-` < `.` < digits <
 * upper case < `_` < lower case) differs from a locale's order and from the insertion order.
 */
function tagName(i: number): string {
  const alphabet = '-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
  const hash = sha256(`tag ${i}`);
  let name = 'aA0_'[i % 4] as string;
  for (let k = 0; k < 6; k++)
    name += alphabet[Number.parseInt(hash.slice(k * 2, k * 2 + 2), 16) % alphabet.length];
  return `${name}${i.toString(36)}`;
}

async function insertChunked<T extends keyof Database>(
  db: Kysely<Database>,
  table: T,
  rows: Insertable<Database[T]>[],
): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    await db
      .insertInto(table)
      .values(rows.slice(i, i + 500) as never)
      .execute();
  }
}

async function repositoryId(db: Kysely<Database>, name: string): Promise<number> {
  const row = await db
    .insertInto('repositories')
    .values({ name, created_at: 1 })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

/** Follows `Link: <…>; rel="next"` (or the API's `next` cursor) from `path`, collecting the entries. */
async function walk(base: string, path: string, entries: (body: never) => string[], headers = {}) {
  const seen: string[] = [];
  let pages = 0;
  for (let next: string | undefined = path; next !== undefined; pages++) {
    const res = await fetch(`${base}${next}`, { headers });
    expect(res.status, next).toBe(200);
    const body = (await res.json()) as { next?: string };
    seen.push(...entries(body as never));
    next = /^<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
    if (next === undefined && body.next !== undefined) {
      const url = new URL(path, 'http://x');
      url.searchParams.set('cursor', body.next);
      next = `${url.pathname}${url.search}`;
    }
    expect(pages, 'a walk that does not end').toBeLessThan(20_000);
  }
  return { seen, pages };
}

describe(`large listings on ${testMetadata}: each entry exactly once, in order`, () => {
  let dataDir: string;
  let url: string;
  let database: string | undefined;
  let tags: string[];
  let artifacts: string[];
  let publicRepositories: string[];

  /** A server on the seeded data; `config` as startBerth takes it. */
  const serve = (config: Record<string, unknown> = {}) =>
    startBerth({ dataDir, config: { 'metadata.url': url, ...config } });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'berth-large-listings-'));
    database = testMetadata === 'postgres' ? await createTestDatabase() : undefined;
    url = database ?? `sqlite:${join(dataDir, 'berth.db')}`;
    const seeder = await serve();
    try {
      const { db } = seeder.berth.registry.meta;
      await seeder.berth.accounts.createProject({ name: 'pub', public: true });
      await seeder.berth.accounts.createProject({ name: 'priv', public: false });
      // One repository of 10,000 tags, all on one manifest.
      const image = manifest(-1);
      const big = await repositoryId(db, 'pub/many-tags');
      await insertChunked(db, 'manifests', [
        {
          repository_id: big,
          digest: image.digest,
          media_type: OCI_MANIFEST,
          size: image.content.length,
          content: image.content,
          created_at: 1,
        },
      ]);
      tags = Array.from({ length: TAGS }, (_, i) => tagName(i));
      expect(new Set(tags).size).toBe(TAGS);
      await insertChunked(
        db,
        'tags',
        tags.map((name) => ({ repository_id: big, name, manifest_digest: image.digest, updated_at: 1 })),
      );
      tags.sort(byteOrder);
      // 2,500 artifacts pushed in groups of 7 within the same millisecond: the keyset's digest tiebreak counts.
      const many = await repositoryId(db, 'pub/many-artifacts');
      const rows = Array.from({ length: ARTIFACTS }, (_, i) => ({
        ...manifest(i),
        pushedAt: 1_000_000 + Math.floor(i / 7),
      }));
      await insertChunked(
        db,
        'manifests',
        rows.map((r) => ({
          repository_id: many,
          digest: r.digest,
          media_type: OCI_MANIFEST,
          size: r.content.length,
          content: r.content,
          created_at: r.pushedAt,
        })),
      );
      artifacts = rows
        .sort((a, b) => b.pushedAt - a.pushedAt || byteOrder(a.digest, b.digest))
        .map((r) => `${r.pushedAt}:${r.digest}`);
      // A private project large enough to span several of the catalog's internal batches, between public ones,
      // and bare names (project library, public) scattered among them.
      const names = [
        ...Array.from({ length: PRIVATE_REPOSITORIES }, (_, i) => `priv/r${i}`),
        ...Array.from({ length: 30 }, (_, i) => `pub/r${i}`),
        ...Array.from({ length: 20 }, (_, i) => `library/r${i}`),
        ...['a', 'priv', 'pub', 'privy', 'pua', 'zz'].map((n) => `${n}bare`),
      ];
      await insertChunked(
        db,
        'repositories',
        names.map((name) => ({ name, created_at: 1 })),
      );
      publicRepositories = [...names, 'pub/many-tags', 'pub/many-artifacts']
        .filter((n) => !n.startsWith('priv/'))
        .sort(byteOrder);
    } finally {
      await seeder.close();
    }
  }, 300_000);

  afterAll(async () => {
    if (database) await dropTestDatabase(database);
    await rm(dataDir, { recursive: true, force: true });
  });

  const tagPath = '/v2/pub/many-tags/tags/list';
  const tagsOf = (body: { tags: string[] }) => body.tags;

  for (const [what, config] of [
    ['cached whole list', {}],
    ['pages from the database (no cache)', { 'manifests.cacheBytes': 0 }],
  ] as const) {
    it(`tags/list over ${TAGS} tags, ${what}: by n=100, n=1000 and whole`, async () => {
      const berth: TestBerth = await serve(config);
      try {
        const by100 = await walk(berth.url, `${tagPath}?n=100`, tagsOf);
        expect(by100.pages).toBe(TAGS / 100);
        expect(by100.seen).toEqual(tags);
        const by1000 = await walk(
          berth.url,
          `${tagPath}?n=1000&last=${encodeURIComponent(tags[4999] as string)}`,
          tagsOf,
        );
        expect(by1000.seen).toEqual(tags.slice(5000));
        const whole = await walk(berth.url, tagPath, tagsOf);
        expect(whole.pages).toBe(1);
        expect(whole.seen).toEqual(tags);
      } finally {
        await berth.close();
      }
    });
  }

  it(`API artifacts over ${ARTIFACTS} artifacts with equal push times: by limit=100; an artifact's tags in order`, async () => {
    const berth = await serve();
    try {
      const { seen, pages } = await walk(
        berth.url,
        '/api/v1/projects/pub/repositories/many-artifacts/artifacts?limit=100',
        (body: { items: { pushedAt: number; digest: string }[] }) =>
          body.items.map((i) => `${i.pushedAt}:${i.digest}`),
      );
      expect(pages).toBe(ARTIFACTS / 100);
      expect(seen).toEqual(artifacts);
      // An artifact's tags, in byte order: the one image of pub/many-tags carries all 10,000.
      const res = await fetch(`${berth.url}/api/v1/projects/pub/repositories/many-tags/artifacts`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { items: { tags: string[] }[] };
      expect(body.items).toHaveLength(1);
      expect(body.items[0]?.tags).toEqual(tags);
    } finally {
      await berth.close();
    }
  });

  it('the catalog of an anonymous token: every public repository once, none of the private project', async () => {
    const berth = await serve({ 'auth.enabled': true });
    try {
      const res = await fetch(`${berth.url}/token?service=berth&scope=registry:catalog:*`);
      expect(res.status).toBe(200);
      const { token } = (await res.json()) as { token: string };
      const headers = { authorization: `Bearer ${token}` };
      const repositories = (body: { repositories: string[] }) => body.repositories;
      for (const n of [7, 1000]) {
        const { seen } = await walk(berth.url, `/v2/_catalog?n=${n}`, repositories, headers);
        expect(seen).toEqual(publicRepositories);
      }
      // A page that starts inside the private project.
      const { seen } = await walk(berth.url, '/v2/_catalog?n=5&last=priv/r1', repositories, headers);
      expect(seen).toEqual(publicRepositories.filter((n) => byteOrder(n, 'priv/r1') > 0));
    } finally {
      await berth.close();
    }
  });
});
