/**
 * Large listings (issue 17): `/v2/_catalog`, `/v2/<name>/tags/list` and the API's repository and artifact
 * listings at 1k/10k/100k repositories and at 1k/10k/100k tags in one repository, on SQLite and PostgreSQL.
 *
 * The rows are bulk-inserted into the metadata database of a running Berth (no pushes: 100k pushes would
 * measure the push path for an hour): repositories `big/app-…` in the public project `big`, grown 1k → 10k →
 * 100k between measurements (each with one image tagged `latest`), and the repositories `tags/t1000`, `tags/t10000`, `tags/t100000`, each with that
 * many tags, one manifest per tag (so the artifact listing has as many rows). Each is measured on its own
 * first request, so no cache holds it beforehand. For every size: one page (n=100) at the start and in the
 * middle (median of `repeat` requests), a walk by n=1000 (ms per page), and the whole list as a client gets it
 * without `n` (pages of 10,000 following Link). The walks check that every name comes exactly once, in order.
 *
 * `explain` prints the query plans of the same queries, captured from Berth's own stores (EXPLAIN QUERY PLAN
 * on SQLite, EXPLAIN ANALYZE on PostgreSQL) at the largest size.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import type { CompiledQuery, Kysely, KyselyPlugin } from 'kysely';
import pg from 'pg';
import { CatalogStore } from '../src/catalog/catalog-store.js';
import { type Database, MetadataStore, openDatabase } from '../src/metadata/index.js';
import { createBenchDatabase, dropBenchDatabase } from './bench-database.js';
import { median } from './client.js';
import { type Server, startBerth } from './servers.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const EMPTY = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
};
/** The one image of every repository of project `big`, tagged `latest`: a registry's repositories are not empty. */
const LATEST = (() => {
  const content = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: EMPTY, layers: [] }),
  );
  return { content, digest: `sha256:${createHash('sha256').update(content).digest('hex')}` };
})();
const PROJECT = 'big';
const TAG_PROJECT = 'tags';

export type Metadata = 'sqlite' | 'postgres';

/** Milliseconds for one listing at one size. */
export interface ListingFigures {
  /** n=100 (API: limit=100) at the start and from the middle: medians, with min and max. */
  first: Spread;
  middle: Spread;
  /** Walk by n=1000 (API: limit=1000): ms per page, and the pages. */
  walkPerPageMs?: number;
  walkPages?: number;
  /** The whole list without n (pages of 10,000 following Link): total ms and requests. */
  wholeMs?: number;
  wholeRequests?: number;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface ListingsBench {
  sizes: number[];
  repeat: number;
  /** Per database, listing and size. */
  results: Record<Metadata, Record<string, Record<number, ListingFigures>>>;
  /** Per database: the query plans at the largest size. */
  plans: Partial<Record<Metadata, string>>;
  seedSeconds: Partial<Record<Metadata, number>>;
}

export const LISTINGS = ['catalog', 'tags/list', 'API repositories', 'API artifacts'] as const;

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** Bytewise order, as the database sorts names (collate "C" on PostgreSQL). */
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

interface SeededTags {
  repository: string;
  tags: string[];
  /** Push time and digest of every artifact, newest first (the API's order). */
  artifacts: { pushedAt: number; digest: string }[];
}

/** Bulk inserts straight into the metadata tables Berth reads. */
interface Seeder {
  project(name: string): Promise<void>;
  repositories(names: string[]): Promise<void>;
  tagged(repository: string, count: number): Promise<SeededTags>;
  analyze(): Promise<void>;
  close(): Promise<void>;
}

function manifestRows(count: number, seed: string) {
  const base = Date.now() - count * 1000;
  const rows: { digest: string; content: Buffer; size: number; createdAt: number; tag: string }[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const content = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: EMPTY,
        layers: [],
        annotations: { 'org.example.build': `${seed}-${i}` },
      }),
    );
    // Tag names in an order unrelated to the push order, as real tags are (v1.10 < v1.9).
    let tag = `v${sha256(`${seed}:${i}`).slice(0, 12)}`;
    while (seen.has(tag)) tag = `${tag}x`;
    seen.add(tag);
    rows.push({
      digest: `sha256:${sha256(content)}`,
      content,
      size: content.length,
      createdAt: base + i * 1000,
      tag,
    });
  }
  return rows;
}

function seeded(repository: string, rows: ReturnType<typeof manifestRows>): SeededTags {
  return {
    repository,
    tags: rows.map((r) => r.tag).sort(byteOrder),
    artifacts: rows
      .map((r) => ({ pushedAt: r.createdAt, digest: r.digest }))
      .sort((a, b) => b.pushedAt - a.pushedAt || byteOrder(a.digest, b.digest)),
  };
}

function sqliteSeeder(path: string): Seeder {
  const db = new SQLite(path);
  db.pragma('busy_timeout = 30000');
  const now = Date.now();
  return {
    async project(name) {
      db.prepare('insert into projects (name, public, created_at) values (?, 1, ?)').run(name, now);
    },
    async repositories(names) {
      const insert = db.prepare('insert into repositories (name, created_at) values (?, ?) returning id');
      const manifest = db.prepare(
        'insert into manifests (repository_id, digest, media_type, size, content, created_at) values (?, ?, ?, ?, ?, ?)',
      );
      const tag = db.prepare(
        'insert into tags (repository_id, name, manifest_digest, updated_at) values (?, ?, ?, ?)',
      );
      db.transaction(() => {
        for (const name of names) {
          const { id } = insert.get(name, now) as { id: number };
          manifest.run(id, LATEST.digest, OCI_MANIFEST, LATEST.content.length, LATEST.content, now);
          tag.run(id, 'latest', LATEST.digest, now);
        }
      })();
    },
    async tagged(repository, count) {
      const rows = manifestRows(count, repository);
      db.transaction(() => {
        const { id } = db
          .prepare('insert into repositories (name, created_at) values (?, ?) returning id')
          .get(repository, now) as { id: number };
        const manifest = db.prepare(
          'insert into manifests (repository_id, digest, media_type, size, content, created_at) values (?, ?, ?, ?, ?, ?)',
        );
        const tag = db.prepare(
          'insert into tags (repository_id, name, manifest_digest, updated_at) values (?, ?, ?, ?)',
        );
        for (const row of rows) {
          manifest.run(id, row.digest, OCI_MANIFEST, row.size, row.content, row.createdAt);
          tag.run(id, row.tag, row.digest, row.createdAt);
        }
      })();
      return seeded(repository, rows);
    },
    // Berth never runs ANALYZE on SQLite, so neither does the bench: the planner works without statistics.
    async analyze() {},
    async close() {
      db.close();
    },
  };
}

function postgresSeeder(url: string): Seeder {
  const client = new pg.Client({ connectionString: url });
  const connected = client.connect();
  const now = Date.now();
  const chunks = <T>(items: T[], size = 10_000) =>
    Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
  return {
    async project(name) {
      await connected;
      await client.query('insert into projects (name, public, created_at) values ($1, 1, $2)', [name, now]);
    },
    async repositories(names) {
      await connected;
      for (const chunk of chunks(names)) {
        await client.query(
          'insert into repositories (name, created_at) select unnest($1::text[]), $2::bigint',
          [chunk, now],
        );
        await client.query(
          `insert into manifests (repository_id, digest, media_type, size, content, created_at)
           select id, $2, $3, $4, $5, $6 from repositories where name = any($1::text[])`,
          [chunk, LATEST.digest, OCI_MANIFEST, LATEST.content.length, LATEST.content, now],
        );
        await client.query(
          `insert into tags (repository_id, name, manifest_digest, updated_at)
           select id, 'latest', $2, $3 from repositories where name = any($1::text[])`,
          [chunk, LATEST.digest, now],
        );
      }
    },
    async tagged(repository, count) {
      await connected;
      const rows = manifestRows(count, repository);
      const { rows: inserted } = await client.query<{ id: string }>(
        'insert into repositories (name, created_at) values ($1, $2) returning id',
        [repository, now],
      );
      const id = Number(inserted[0]?.id);
      for (const chunk of chunks(rows)) {
        await client.query(
          `insert into manifests (repository_id, digest, media_type, size, content, created_at)
           select $1::bigint, unnest($2::text[]), $3, unnest($4::bigint[]), unnest($5::bytea[]), unnest($6::bigint[])`,
          [
            id,
            chunk.map((r) => r.digest),
            OCI_MANIFEST,
            chunk.map((r) => r.size),
            chunk.map((r) => r.content),
            chunk.map((r) => r.createdAt),
          ],
        );
        await client.query(
          `insert into tags (repository_id, name, manifest_digest, updated_at)
           select $1::bigint, unnest($2::text[]), unnest($3::text[]), unnest($4::bigint[])`,
          [id, chunk.map((r) => r.tag), chunk.map((r) => r.digest), chunk.map((r) => r.createdAt)],
        );
      }
      return seeded(repository, rows);
    },
    async analyze() {
      await connected;
      // What autovacuum would have done by itself on a registry that grew over time.
      await client.query('vacuum analyze');
    },
    async close() {
      await client.end();
    },
  };
}

interface Target {
  metadata: Metadata;
  server: Server;
  url: string;
  seeder: Seeder;
  database?: string;
}

async function start(metadata: Metadata): Promise<Target> {
  const env: Record<string, string> = {
    // Many API requests from one address in a minute.
    BERTH_LIMITS_API_REQUESTS_PER_ADDRESS: '0',
    BERTH_LIMITS_API_REQUESTS_PER_USER: '0',
  };
  let database: string | undefined;
  let url: string;
  if (metadata === 'postgres') {
    ({ name: database, url } = await createBenchDatabase());
    env.BERTH_METADATA_URL = url;
  }
  const server = await startBerth(undefined, env);
  url ??= `sqlite:${join(server.dataDir, 'berth.db')}`;
  const seeder = metadata === 'postgres' ? postgresSeeder(url) : sqliteSeeder(url.slice('sqlite:'.length));
  return { metadata, server, url, seeder, ...(database && { database }) };
}

async function stop(target: Target): Promise<void> {
  await target.seeder.close().catch(() => {});
  await target.server.stop();
  const { database } = target;
  if (database) await dropBenchDatabase(database);
}

async function get(url: string): Promise<{ ms: number; body: Record<string, unknown>; link?: string }> {
  const t0 = performance.now();
  const res = await fetch(url);
  const text = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  const link = res.headers.get('link') ?? undefined;
  return { ms, body: JSON.parse(text) as Record<string, unknown>, ...(link && { link }) };
}

async function spread(url: string, repeat: number): Promise<Spread> {
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) times.push((await get(url)).ms);
  return { median: median(times), min: Math.min(...times), max: Math.max(...times) };
}

/** Follows `Link: <…>; rel="next"` from `path`, collecting `key` of every page; checks order and uniqueness. */
async function walk(
  base: string,
  path: string,
  items: (body: Record<string, unknown>) => string[],
  order: (a: string, b: string) => number,
): Promise<{ ms: number; requests: number; names: string[] }> {
  const names: string[] = [];
  let requests = 0;
  let ms = 0;
  for (let next: string | undefined = path; next !== undefined; ) {
    const page = await get(`${base}${next}`);
    requests++;
    ms += page.ms;
    names.push(...items(page.body));
    next = /^<([^>]+)>;\s*rel="next"/.exec(page.link ?? '')?.[1];
    // The API's listings name the next page in the body.
    if (next === undefined && typeof page.body.next === 'string') {
      const url = new URL(path, 'http://berth.invalid');
      url.searchParams.set('cursor', page.body.next);
      next = `${url.pathname}${url.search}`;
    }
  }
  for (let i = 1; i < names.length; i++) {
    if (order(names[i - 1] as string, names[i] as string) >= 0)
      throw new Error(`${path}: ${names[i - 1]} then ${names[i]}: out of order or repeated`);
  }
  return { ms, requests, names };
}

const b64 = (text: string) => Buffer.from(text).toString('base64url');
const strings = (key: string) => (body: Record<string, unknown>) => body[key] as string[];
const names = (body: Record<string, unknown>) => (body.items as { name: string }[]).map((i) => i.name);
const digests = (body: Record<string, unknown>) =>
  (body.items as { digest: string; pushedAt: number }[]).map((i) => `${i.pushedAt}:${i.digest}`);
/** Newest first, then digest: the artifact listing's key order. */
const artifactOrder = (a: string, b: string) => {
  const [ta, da] = [Number(a.slice(0, a.indexOf(':'))), a.slice(a.indexOf(':') + 1)];
  const [tb, db] = [Number(b.slice(0, b.indexOf(':'))), b.slice(b.indexOf(':') + 1)];
  return tb - ta || byteOrder(da, db);
};

function expectAll(what: string, got: string[], want: string[]): void {
  if (got.length !== want.length || got.some((name, i) => name !== want[i]))
    throw new Error(`${what}: listed ${got.length} entries, expected the ${want.length} seeded, in order`);
}

/** Captures the SQL of Berth's own stores as they run, to EXPLAIN it. */
function capturing(db: Kysely<Database>, into: CompiledQuery[]): Kysely<Database> {
  const plugin: KyselyPlugin = {
    transformQuery(args) {
      into.push(db.getExecutor().compileQuery(args.node, args.queryId));
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  return db.withPlugin(plugin);
}

async function explain(target: Target, tags: SeededTags, middleRepository: string): Promise<string> {
  const opened = await openDatabase(target.url, { migrate: false });
  const captured: CompiledQuery[] = [];
  const db = capturing(opened.db, captured);
  const out: string[] = [];
  try {
    const meta = new MetadataStore(db);
    const catalog = new CatalogStore(db);
    const middle = tags.tags[tags.tags.length >> 1] as string;
    const artifact = tags.artifacts[tags.artifacts.length >> 1] as { pushedAt: number; digest: string };
    const id = (await catalog.repositoryId(tags.repository)) as number;
    const cases: [string, () => Promise<unknown>][] = [
      ['catalog page (listRepositories)', () => meta.listRepositories(101, middleRepository)],
      ['tags/list page (listTags)', () => meta.listTags(tags.repository, 101, middle)],
      ['API repositories page', () => catalog.repositories(PROJECT, { limit: 101, after: middleRepository })],
      ['API artifacts page', () => catalog.artifacts(id, { limit: 101, after: artifact })],
    ];
    for (const [title, run] of cases) {
      captured.length = 0;
      await run();
      for (const query of captured) {
        let plan: string;
        if (opened.dialect === 'postgres') {
          const res = await (opened.postgres as { pool: pg.Pool }).pool.query<{ 'QUERY PLAN': string }>(
            `explain (analyze, costs off, timing off) ${query.sql}`,
            query.parameters as unknown[],
          );
          plan = res.rows.map((r) => r['QUERY PLAN']).join('\n');
        } else {
          const sqlite = new SQLite(target.url.slice('sqlite:'.length), { readonly: true });
          const rows = sqlite
            .prepare(`explain query plan ${query.sql}`)
            .all(...(query.parameters as unknown[])) as { id: number; parent: number; detail: string }[];
          sqlite.close();
          const depth = new Map<number, number>([[0, 0]]);
          plan = rows
            .map((r) => {
              const d = (depth.get(r.parent) ?? 0) + 1;
              depth.set(r.id, d);
              return `${'  '.repeat(d - 1)}${r.detail}`;
            })
            .join('\n');
        }
        out.push(`-- ${title}\n${query.sql}\n${plan}\n`);
      }
    }
  } finally {
    await opened.db.destroy();
  }
  return out.join('\n');
}

export async function benchListings(options: {
  quick: boolean;
  log: (line: string) => void;
  databases?: Metadata[];
  explain?: boolean;
}): Promise<ListingsBench> {
  const sizes = options.quick ? [1000, 10_000] : [1000, 10_000, 100_000];
  const repeat = options.quick ? 5 : 9;
  const empty = () => Object.fromEntries(LISTINGS.map((l) => [l, {}])) as ListingsBench['results']['sqlite'];
  const result: ListingsBench = {
    sizes,
    repeat,
    results: { sqlite: empty(), postgres: empty() },
    plans: {},
    seedSeconds: {},
  };
  for (const metadata of options.databases ?? (['sqlite', 'postgres'] as const)) {
    const target = await start(metadata);
    const { url: base } = target.server;
    try {
      let seedMs = 0;
      const seed = async <T>(work: () => Promise<T>): Promise<T> => {
        const t0 = performance.now();
        const value = await work();
        seedMs += performance.now() - t0;
        return value;
      };
      await seed(async () => {
        await target.seeder.project(PROJECT);
        await target.seeder.project(TAG_PROJECT);
      });
      const repositories: string[] = [];
      let lastTags: SeededTags | undefined;
      for (const size of sizes) {
        const added = Array.from(
          { length: size - repositories.length },
          (_, i) => `${PROJECT}/app-${sha256(`r${repositories.length + i}`).slice(0, 10)}`,
        );
        const tags = await seed(async () => {
          await target.seeder.repositories(added);
          const tagged = await target.seeder.tagged(`${TAG_PROJECT}/t${size}`, size);
          await target.seeder.analyze();
          return tagged;
        });
        lastTags = tags;
        repositories.push(...added);
        repositories.sort(byteOrder);
        options.log(`  listings, ${metadata}: ${size} repositories and a repository of ${size} tags seeded`);
        const all = [
          ...repositories,
          ...sizes.filter((s) => s <= size).map((s) => `${TAG_PROJECT}/t${s}`),
        ].sort(byteOrder);
        const middle = repositories[repositories.length >> 1] as string;
        const middleTag = tags.tags[tags.tags.length >> 1] as string;
        const middleArtifact = tags.artifacts[tags.artifacts.length >> 1] as {
          pushedAt: number;
          digest: string;
        };
        const tagPath = `/v2/${tags.repository}/tags/list`;
        const apiRepos = `/api/v1/projects/${PROJECT}/repositories`;
        const apiArtifacts = `/api/v1/projects/${TAG_PROJECT}/repositories/t${size}/artifacts`;
        const record = (listing: string, figures: ListingFigures) => {
          (result.results[metadata][listing] as Record<number, ListingFigures>)[size] = figures;
          options.log(
            `  listings, ${metadata}, ${listing} at ${size}: first ${figures.first.median.toFixed(1)} ms, middle ` +
              `${figures.middle.median.toFixed(1)} ms, walk ${figures.walkPerPageMs?.toFixed(1) ?? '—'} ms/page, ` +
              `whole ${figures.wholeMs?.toFixed(0) ?? '—'} ms`,
          );
        };
        // tags/list first: its first request is the one that finds nothing cached.
        {
          const whole = await walk(base, tagPath, strings('tags'), byteOrder);
          expectAll(`${tagPath} (whole)`, whole.names, tags.tags);
          const walked = await walk(base, `${tagPath}?n=1000`, strings('tags'), byteOrder);
          expectAll(`${tagPath}?n=1000`, walked.names, tags.tags);
          record('tags/list', {
            first: await spread(`${base}${tagPath}?n=100`, repeat),
            middle: await spread(`${base}${tagPath}?n=100&last=${encodeURIComponent(middleTag)}`, repeat),
            walkPerPageMs: walked.ms / walked.requests,
            walkPages: walked.requests,
            wholeMs: whole.ms,
            wholeRequests: whole.requests,
          });
        }
        {
          const whole = await walk(base, '/v2/_catalog', strings('repositories'), byteOrder);
          expectAll('/v2/_catalog (whole)', whole.names, all);
          const walked = await walk(base, '/v2/_catalog?n=1000', strings('repositories'), byteOrder);
          expectAll('/v2/_catalog?n=1000', walked.names, all);
          record('catalog', {
            first: await spread(`${base}/v2/_catalog?n=100`, repeat),
            middle: await spread(`${base}/v2/_catalog?n=100&last=${encodeURIComponent(middle)}`, repeat),
            walkPerPageMs: walked.ms / walked.requests,
            walkPages: walked.requests,
            wholeMs: whole.ms,
            wholeRequests: whole.requests,
          });
        }
        {
          const walked = await walk(base, `${apiRepos}?limit=1000`, names, byteOrder);
          expectAll(`${apiRepos}?limit=1000`, walked.names, repositories);
          record('API repositories', {
            first: await spread(`${base}${apiRepos}?limit=100`, repeat),
            middle: await spread(`${base}${apiRepos}?limit=100&cursor=${b64(middle)}`, repeat),
            walkPerPageMs: walked.ms / walked.requests,
            walkPages: walked.requests,
          });
        }
        {
          const walked = await walk(base, `${apiArtifacts}?limit=1000`, digests, artifactOrder);
          expectAll(
            `${apiArtifacts}?limit=1000`,
            walked.names,
            tags.artifacts.map((a) => `${a.pushedAt}:${a.digest}`),
          );
          const cursor = b64(`${middleArtifact.pushedAt}:${middleArtifact.digest}`);
          record('API artifacts', {
            first: await spread(`${base}${apiArtifacts}?limit=100`, repeat),
            middle: await spread(`${base}${apiArtifacts}?limit=100&cursor=${cursor}`, repeat),
            walkPerPageMs: walked.ms / walked.requests,
            walkPages: walked.requests,
          });
        }
      }
      result.seedSeconds[metadata] = seedMs / 1000;
      if (options.explain && lastTags) {
        result.plans[metadata] = await explain(
          target,
          lastTags,
          repositories[repositories.length >> 1] as string,
        );
      }
    } finally {
      await stop(target).catch(() => {});
    }
  }
  return result;
}

/** One table per database: listing × size, first/middle page medians, ms per page of a walk, the whole list. */
export function listingsTable(bench: ListingsBench): string {
  const out: string[] = [];
  for (const metadata of ['sqlite', 'postgres'] as const) {
    const lines = [
      [
        `${metadata === 'sqlite' ? 'SQLite' : 'PostgreSQL'}: listing`,
        'size',
        'n=100 first (ms)',
        'n=100 middle (ms)',
        'walk n=1000 (ms/page)',
        'whole (ms, requests)',
      ],
    ];
    for (const listing of LISTINGS) {
      for (const size of bench.sizes) {
        const f = bench.results[metadata][listing]?.[size];
        if (!f) continue;
        const s = (x: Spread) => `${x.median.toFixed(1)} (${x.min.toFixed(1)}–${x.max.toFixed(1)})`;
        lines.push([
          listing,
          String(size),
          s(f.first),
          s(f.middle),
          f.walkPerPageMs === undefined ? '—' : `${f.walkPerPageMs.toFixed(1)} (${f.walkPages})`,
          f.wholeMs === undefined ? '—' : `${f.wholeMs.toFixed(0)} (${f.wholeRequests})`,
        ]);
      }
    }
    if (lines.length === 1) continue;
    const widths = lines[0]?.map((_, i) => Math.max(...lines.map((l) => (l[i] as string).length))) ?? [];
    out.push(
      lines
        .map((l) =>
          l
            .map((c, i) => (i < 2 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
            .join('  ')
            .trimEnd(),
        )
        .join('\n'),
    );
  }
  return out.join('\n\n');
}
