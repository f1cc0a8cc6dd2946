/**
 * `npm run bench:gc`: how long online garbage collection takes on a registry of 100,000 blobs (the figure
 * issue 5 asks for). Builds the metadata and the stored objects directly (pushing 100k blobs over HTTP would
 * take minutes and measure the push path, not the collector), then times a dry run and a real run through the
 * same GarbageCollector the server uses.
 *
 * Shape: 1,000 repositories × 50 tagged images (one config + one layer each: 100,000 referenced blobs), plus
 * garbage: 10,000 untagged images (20,000 blobs), 10,000 unreferenced links and 10,000 unlinked blob rows,
 * every blob a small file on disk. Flags: --blobs=N scales the referenced part; --postgres=URL runs the
 * metadata on PostgreSQL (a fresh database is created and dropped).
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Insertable, type Kysely, sql } from 'kysely';
import pg from 'pg';
import { LocalBus } from '../src/cluster/index.js';
import { type CollectionSummary, GarbageCollector, JobRunner } from '../src/lifecycle/index.js';
import {
  CollectionStore,
  type Database,
  JobRunStore,
  MetadataStore,
  openDatabase,
} from '../src/metadata/index.js';
import { blobKey, parseDigest, Registry } from '../src/registry/index.js';
import { FilesystemBlobStore } from '../src/storage/index.js';

function flag(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}
const referencedBlobs = Number(flag('blobs') ?? 100_000);
const postgresUrl = flag('postgres');
const REPOS = 1000;
const imagesPerRepo = Math.max(1, Math.round(referencedBlobs / 2 / REPOS));
const GARBAGE = Math.round(referencedBlobs / 10);

const sha256Hex = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const digestOf = (text: string) => `sha256:${sha256Hex(Buffer.from(text))}`;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-gc-scale-'));
  let url = `sqlite:${join(dir, 'berth.db')}`;
  let dropDatabase: (() => Promise<void>) | undefined;
  if (postgresUrl) {
    const name = `berth_gc_scale_${randomUUID().replaceAll('-', '')}`;
    const admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const target = new URL(postgresUrl);
    target.pathname = `/${name}`;
    url = target.toString();
    dropDatabase = async () => {
      const again = new pg.Client({ connectionString: postgresUrl });
      await again.connect();
      await again.query(`drop database if exists ${name} with (force)`);
      await again.end();
    };
  }
  const { db } = await openDatabase(url);
  const store = new FilesystemBlobStore(join(dir, 'data'));
  try {
    const setup = Date.now();
    const counts = await populate(db, join(dir, 'data'));
    // A registry that grew to this size has planner statistics (autovacuum's ANALYZE); a bulk load has none.
    await sql`analyze`.execute(db);
    console.error(
      `built ${counts.blobs} blobs (${counts.garbageBlobs} garbage), ${counts.manifests} manifests in ` +
        `${((Date.now() - setup) / 1000).toFixed(1)} s on ${postgresUrl ? 'PostgreSQL' : 'SQLite'}`,
    );
    const meta = new MetadataStore(db);
    const registry = new Registry(store, meta, {
      maxManifestBytes: 4 << 20,
      manifestCacheBytes: 0,
      uploadTtlMs: 86_400_000,
      bus: new LocalBus(),
    });
    const runner = new JobRunner(new JobRunStore(db));
    const gc = new GarbageCollector(store, new CollectionStore(db), registry, runner, { graceMs: 0 });
    for (const dryRun of [true, false]) {
      const rss = process.memoryUsage().rss;
      const started = await gc.start({ dryRun });
      const run = await runner.wait(started.id);
      if (run?.status !== 'succeeded') throw new Error(`gc failed: ${run?.error}`);
      const summary = run.summary as CollectionSummary;
      console.log(
        `${dryRun ? 'dry run' : 'run    '}: ${(summary.durationMs / 1000).toFixed(2)} s — ` +
          `${summary.manifests} manifests, ${summary.links} links, ${summary.blobs} blobs, ` +
          `${summary.orphans.objects} orphans; RSS ${Math.round(rss / 2 ** 20)} → ` +
          `${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB; phases ${JSON.stringify(summary.phases)}`,
      );
    }
    const left = await db
      .selectFrom('blobs')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    console.log(`blobs left: ${Number(left.n)} (expected ${counts.blobs - counts.garbageBlobs})`);
    await registry.close();
    await runner.close();
  } finally {
    await db.destroy();
    await dropDatabase?.();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Rows and files for the shape described above; returns what it made. */
async function populate(db: Kysely<Database>, root: string) {
  const old = Date.now() - 86_400_000;
  const files: string[] = [];
  const blobs: { digest: string; size: number; created_at: number; touched_at: number }[] = [];
  const links: { repository_id: number; digest: string; created_at: number }[] = [];
  const manifests: Insertable<Database['manifests']>[] = [];
  const references: Database['manifest_references'][] = [];
  const tags: Database['tags'][] = [];
  const blob = (text: string) => {
    const digest = digestOf(text);
    blobs.push({ digest, size: 16, created_at: old, touched_at: old });
    files.push(digest);
    return digest;
  };
  const image = (repositoryId: number, n: string, tag: string | undefined) => {
    const config = blob(`config ${n}`);
    const layer = blob(`layer ${n}`);
    const content = Buffer.from(JSON.stringify({ n, config, layer }));
    const digest = `sha256:${sha256Hex(content)}`;
    manifests.push({
      repository_id: repositoryId,
      digest,
      media_type: 'application/vnd.oci.image.manifest.v1+json',
      size: content.length,
      content,
      subject: null,
      artifact_type: null,
      annotations: null,
      created_at: old,
    });
    for (const child of [config, layer]) {
      links.push({ repository_id: repositoryId, digest: child, created_at: old });
      references.push({
        repository_id: repositoryId,
        manifest_digest: digest,
        child_digest: child,
        kind: 'blob',
      });
    }
    if (tag) tags.push({ repository_id: repositoryId, name: tag, manifest_digest: digest, updated_at: old });
  };
  await db
    .insertInto('repositories')
    .values(Array.from({ length: REPOS }, (_, i) => ({ name: `scale/repo${i}`, created_at: old })))
    .execute();
  const ids = (await db.selectFrom('repositories').select('id').orderBy('id').execute()).map((r) =>
    Number(r.id),
  );
  let garbageBlobs = 0;
  ids.forEach((id, r) => {
    for (let i = 0; i < imagesPerRepo; i++) image(id, `${r}/${i}`, `v${i}`);
  });
  for (let i = 0; i < GARBAGE; i++) {
    const id = ids[i % ids.length] as number;
    image(id, `untagged ${i}`, undefined);
    const abandoned = blob(`abandoned ${i}`);
    links.push({ repository_id: id, digest: abandoned, created_at: old });
    blob(`unlinked ${i}`);
    garbageBlobs += 4;
  }
  const insert = async <T extends keyof Database>(table: T, rows: Insertable<Database[T]>[]) => {
    for (let i = 0; i < rows.length; i += 500) {
      await db
        .insertInto(table)
        .values(rows.slice(i, i + 500) as never)
        .execute();
    }
  };
  await insert('blobs', blobs);
  await insert('repository_blobs', links);
  await insert('manifests', manifests);
  await insert('manifest_references', references);
  await insert('tags', tags);
  for (const digest of files) {
    const path = join(root, blobKey(parseDigest(digest)));
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, '0123456789abcdef');
  }
  return { blobs: blobs.length, garbageBlobs, manifests: manifests.length };
}

await main();
