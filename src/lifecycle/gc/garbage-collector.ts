import type { CollectionStore, JobRunRow, RepositoryItem } from '../../metadata/index.js';
import {
  blobKey,
  COLLECTOR_CLAIM_MS,
  parseDigest,
  type Registry,
  RegistryError,
} from '../../registry/index.js';
import type { BlobStore } from '../../storage/index.js';
import type { JobContext, JobRunner } from '../jobs/job-runner.js';
import { dueAt } from '../jobs/schedule.js';
import { holdCompactHeap } from './heap-growth.js';
import { Pacer } from './pacer.js';
import { type CollectionPlan, planCollection } from './plan.js';

export interface GarbageCollectorOptions {
  /** Nothing created or relied upon (pushed, mounted, linked) more recently than this is collected. */
  graceMs: number;
  /** Cron expression for scheduled runs; empty: manual only. */
  schedule?: string;
  /** Whether manifests no tag, index or referrer keeps are collected (default true). */
  untagged?: boolean;
  /** How long a claim on a blob being deleted lasts (default COLLECTOR_CLAIM_MS); renewed as it goes. */
  claimMs?: number;
  /**
   * Whether this process is serving requests (RequestActivity): the run rests between batches while it is,
   * and goes at full speed while it is not. Absent: always resting, as if serving.
   */
  serving?: () => boolean;
}

export interface RunRequest {
  dryRun: boolean;
  trigger?: 'manual' | 'schedule';
  requestedBy?: string | undefined;
  /** For a scheduled run: when it was due (two nodes finding it due start it once). */
  dueAt?: number | undefined;
}

/** What a run did, or for a dry run what it would do. */
export interface CollectionSummary {
  dryRun: boolean;
  /** The grace window's start: everything newer was spared. */
  cutoff: string;
  manifests: number;
  links: number;
  blobs: number;
  /** Bytes of the blobs (and orphaned objects) deleted. */
  bytes: number;
  /** Objects in storage without any metadata (a crash, an operator's copy), older than the cutoff. */
  orphans: { objects: number; bytes: number };
  /** Expired upload sessions and their temporary data. */
  uploads: number;
  /** Planned but kept, because a push or tag touched them after the plan was made. */
  spared: { manifests: number; links: number; blobs: number };
  durationMs: number;
  /** Milliseconds each phase took (mark, manifests, links, blobs, orphans, uploads). */
  phases: Record<string, number>;
}

/** What the management API uses. */
export type GcAdmin = Pick<GarbageCollector, 'start' | 'runs' | 'run'>;

/** Work is done in batches of at most this many items (one transaction and one delete statement each). */
const BATCH = 256;
/**
 * How the Pacer runs batches while the server is serving requests (RequestActivity); with no request for a
 * moment, a batch follows the last after one turn of the event loop, so a run on a quiet server goes at full
 * speed. On SQLite every statement runs on the event loop's thread: each batch takes ~5 ms, as long as a
 * request may wait behind one, and is followed by a rest four times as long, a fifth of the thread. At 100k
 * with a pusher running, pushes saw 2.3–3× their idle p99 with 10 ms batches and equal rests, 1.6–2× with
 * rests three times as long, 1.1–1.7× with 5 ms batches and four times. On PostgreSQL a statement holds no
 * thread of ours but shares the database: batches of ~50 ms save round trips, and rests three times as long
 * kept pushes at 0.8–1.6× for a run of 32 s (half as long: 0.9–2.1× in 17.5 s; a quiet run takes 10.9 s).
 * BENCHMARKS.md, GC fourth round.
 */
const PACE = {
  embedded: { targetMs: 5, rest: 4, sliceRows: 1_000 },
  server: { targetMs: 50, rest: 3, sliceRows: 5_000 },
};
/**
 * The mark phase reads repositories in slices of about `sliceRows` rows (manifests, references, links and
 * tagged manifests; on SQLite a read of 1,000 takes a few milliseconds of the thread): the slice grows or
 * shrinks to it, from SLICE_START repositories, up to SLICE_MAX.
 */
const SLICE_START = 32;
const SLICE_MAX = 1000;
/** Blobs read per page when looking for those no link keeps. */
const BLOB_PAGE = 1000;
/** Blobs claimed, deleted and dropped together at most (a push of one of them waits until its batch is done). */
const CLAIM_BATCH = 1024;
/** Storage deletes in flight at once (a store without deleteAll). */
const DELETE_CONCURRENCY = 16;
/** Keys per deleteAll (a store with one): the claim is checked for renewal between them. */
const DELETE_ALL_BATCH = 256;
const ALGORITHMS = ['sha256', 'sha512'];

/**
 * Online garbage collection: mark from the metadata (planCollection, a slice of repositories at a time), then
 * sweep with a re-check at every delete (CollectionStore), while pushes and pulls go on. Nothing is read-only at any point: a manifest
 * push holds what it references until it commits, a blob push first touches the blob's row, and the
 * collector deletes a blob's bytes only under a claim that such a touch cannot get past. One run at a time
 * across every node (JobRunner); a run killed at any point leaves nothing dangling that the next run does not
 * finish (claims lapse, orphaned objects are found by walking storage).
 */
export class GarbageCollector {
  private readonly claimMs: number;
  private readonly startedAt = Date.now();

  constructor(
    private readonly store: BlobStore,
    private readonly collection: CollectionStore,
    private readonly registry: Registry,
    private readonly runner: JobRunner,
    readonly options: GarbageCollectorOptions,
  ) {
    this.claimMs = options.claimMs ?? COLLECTOR_CLAIM_MS;
  }

  /** Starts a run in the background; CONFLICT when one is running (on any node). */
  start(request: RunRequest): Promise<JobRunRow> {
    return this.runner.start(
      {
        kind: 'gc',
        scope: '',
        trigger: request.trigger ?? 'manual',
        dryRun: request.dryRun,
        requestedBy: request.requestedBy,
        dueAt: request.dueAt,
      },
      (context) => this.collect(context, request.dryRun),
    );
  }

  runs(options: { limit: number; before?: number }): Promise<JobRunRow[]> {
    return this.runner.runs.list('gc', options);
  }

  /** The run once it has ended, for a run this process started (any other: as it is now). */
  wait(id: number): Promise<JobRunRow | undefined> {
    return this.runner.wait(id);
  }

  run(id: number): Promise<JobRunRow | undefined> {
    return this.runner.runs.get(id).then((run) => (run?.kind === 'gc' ? run : undefined));
  }

  /** Starts a scheduled run when the schedule says one is due (called by the scheduler on every node). */
  async runDue(now = Date.now()): Promise<JobRunRow | undefined> {
    const schedule = this.options.schedule;
    if (!schedule) return undefined;
    const last = await this.runner.runs.lastStarted('gc', '', 'schedule');
    const due = dueAt(schedule, last, this.startedAt, now);
    if (due === undefined) return undefined;
    return this.start({ dryRun: false, trigger: 'schedule', dueAt: due }).catch((error) => {
      if (error instanceof RegistryError && error.code === 'CONFLICT') return undefined;
      throw error;
    });
  }

  /**
   * The whole run: for each slice of repositories, mark, then sweep its manifests and links; then the blobs
   * that no link keeps, orphaned objects and expired uploads. Memory holds one slice's graph at a time, never
   * the whole registry's.
   */
  async collect(context: JobContext, dryRun: boolean): Promise<CollectionSummary> {
    const release = holdCompactHeap();
    try {
      return await this.collectAll(context, dryRun);
    } finally {
      release();
    }
  }

  private async collectAll(context: JobContext, dryRun: boolean): Promise<CollectionSummary> {
    const began = Date.now();
    const cutoff = began - this.options.graceMs;
    const phases: Record<string, number> = {};
    const timed = async <T>(phase: string, work: () => Promise<T>): Promise<T> => {
      const start = Date.now();
      try {
        return await work();
      } finally {
        phases[phase] = (phases[phase] ?? 0) + Date.now() - start;
      }
    };
    const summary: CollectionSummary = {
      dryRun,
      cutoff: new Date(cutoff).toISOString(),
      manifests: 0,
      links: 0,
      blobs: 0,
      bytes: 0,
      orphans: { objects: 0, bytes: 0 },
      uploads: 0,
      spared: { manifests: 0, links: 0, blobs: 0 },
      durationMs: 0,
      phases,
    };
    const total = await this.collection.repositoryCount();
    const { targetMs, rest, sliceRows } = this.collection.embedded ? PACE.embedded : PACE.server;
    const serving = this.options.serving ?? (() => true);
    // Quiet: no rest (the Pacer still yields one turn of the event loop).
    const how = { targetMs, rest: () => (serving() ? rest : 0) };
    const pace: Pacing = {
      sweeps: new Pacer({ start: 64, max: BATCH, ...how }),
      claims: new Pacer({ start: 256, max: CLAIM_BATCH, ...how }),
      reads: new Pacer({ start: 1, max: 1, ...how }),
    };
    // Dry run: digest → links a run would delete, for blobs also linked from a slice not yet marked.
    const unlinking = new Map<string, number>();
    let done = 0;
    let after = 0;
    let slice = SLICE_START;
    for (;;) {
      stopIfAborted(context);
      context.progress({ phase: 'mark', done, total });
      const marked = await timed('mark', async () => {
        const repositories = await this.collection.repositoriesAfter(after, slice);
        const graph = await pace.reads.timed(0, () => this.collection.graph(repositories));
        const rows =
          graph.manifests.length + graph.references.length + graph.links.length + graph.tagged.size;
        slice = Math.max(1, Math.min(SLICE_MAX, Math.round((slice * sliceRows) / Math.max(rows, 1))));
        const plan = planCollection(graph, { cutoff, untagged: this.options.untagged !== false });
        return { repositories, plan };
      });
      const { repositories, plan } = marked;
      if (repositories.size === 0) break;
      if (dryRun) {
        summary.manifests += plan.manifestRounds.reduce((n, round) => n + round.length, 0);
        summary.links += plan.links.length;
        await timed('blobs', () => this.countUnlinking(plan.links, unlinking, cutoff, summary, pace));
      } else {
        context.progress({ phase: 'manifests', done, total });
        await timed('manifests', () =>
          this.sweepManifests(context, plan, cutoff, repositories, summary, pace),
        );
        context.progress({ phase: 'links', done, total });
        await timed('links', () => this.sweepLinks(context, plan.links, cutoff, repositories, summary, pace));
      }
      done += repositories.size;
      after = Math.max(...repositories.keys());
    }
    context.progress({ phase: 'blobs', done: 0 });
    await timed('blobs', () => this.sweepBlobs(context, cutoff, dryRun, summary, pace));
    context.progress({ phase: 'orphans', done: 0 });
    await timed('orphans', () => this.sweepOrphans(context, cutoff, dryRun, summary, pace));
    context.progress({ phase: 'uploads' });
    await timed('uploads', async () => {
      summary.uploads = dryRun ? await this.registry.uploads.countStale() : await this.purgeUploads();
    });
    summary.durationMs = Date.now() - began;
    return summary;
  }

  /**
   * Dry run: of the blobs these links (a slice's garbage) point to, counts those that no other link keeps.
   * A blob also linked from elsewhere is remembered with how many of its links would go, until later slices
   * account for the rest (a blob another repository still needs stays there: memory grows with such shared
   * garbage only).
   */
  private async countUnlinking(
    links: RepositoryItem[],
    unlinking: Map<string, number>,
    cutoff: number,
    summary: CollectionSummary,
    pace: Pacing,
  ): Promise<void> {
    const here = new Map<string, number>();
    for (const link of links) here.set(link.digest, (here.get(link.digest) ?? 0) + 1);
    await pace.sweeps.each([...here.keys()], async (batch) => {
      const counts = await this.collection.linkCounts(batch);
      for (const digest of batch) {
        const going = (unlinking.get(digest) ?? 0) + (here.get(digest) ?? 0);
        const blob = counts.get(digest);
        if (!blob) continue;
        if (going < blob.links) {
          unlinking.set(digest, going);
          continue;
        }
        unlinking.delete(digest);
        if (blob.touchedAt >= cutoff) continue;
        summary.blobs++;
        summary.bytes += blob.size;
      }
    });
  }

  private async sweepManifests(
    context: JobContext,
    plan: CollectionPlan,
    cutoff: number,
    repositories: Map<number, string>,
    summary: CollectionSummary,
    pace: Pacing,
  ): Promise<void> {
    for (const round of plan.manifestRounds) {
      await pace.sweeps.each(round, async (batch) => {
        stopIfAborted(context);
        const deleted = await this.collection.deleteManifests(batch, cutoff);
        // The batch's events at once: one message to the other nodes, not a query per manifest.
        await this.registry.manifests.changedAll(
          deleted.flatMap((item) => {
            const repository = repositories.get(item.repositoryId);
            return repository === undefined
              ? []
              : [{ kind: 'manifest-deleted' as const, repository, digest: item.digest }];
          }),
        );
        summary.manifests += deleted.length;
        summary.spared.manifests += batch.length - deleted.length;
      });
    }
  }

  private async sweepLinks(
    context: JobContext,
    links: RepositoryItem[],
    cutoff: number,
    repositories: Map<number, string>,
    summary: CollectionSummary,
    pace: Pacing,
  ): Promise<void> {
    await pace.sweeps.each(links, async (batch) => {
      stopIfAborted(context);
      const deleted = await this.collection.deleteLinks(batch, cutoff, repositories);
      summary.links += deleted.length;
      summary.spared.links += batch.length - deleted.length;
    });
  }

  /**
   * The blobs no link keeps (after the links were swept), page by page from the database; a dry run counts
   * them, a run deletes them under claims of CLAIM_BATCH blobs (gathered across pages: a claim and a drop
   * are each a statement, and a synchronous commit on PostgreSQL).
   */
  private async sweepBlobs(
    context: JobContext,
    cutoff: number,
    dryRun: boolean,
    summary: CollectionSummary,
    pace: Pacing,
  ): Promise<void> {
    let done = 0;
    let after = '';
    let pending: { digest: string; size: number }[] = [];
    for (;;) {
      stopIfAborted(context);
      await letRequestsIn();
      const { blobs: page, last } = await this.collection.unlinkedBlobs(after, cutoff, BLOB_PAGE);
      done += page.length;
      if (dryRun) {
        summary.blobs += page.length;
        summary.bytes += page.reduce((n, blob) => n + blob.size, 0);
      } else {
        pending.push(...page);
        while (pending.length >= pace.claims.batchSize || (last === undefined && pending.length > 0)) {
          const size = pace.claims.batchSize;
          await this.deleteBlobs(pending.slice(0, size), cutoff, summary, pace.claims);
          pending = pending.slice(size);
        }
      }
      if (last === undefined) return;
      after = last;
      context.progress({ phase: 'blobs', done });
    }
  }

  /**
   * Claims the blobs (those still garbage), deletes their bytes DELETE_CONCURRENCY at a time, then their rows.
   * A delete starts only while at least half of the claim is left: the claim is renewed before that.
   */
  private async deleteBlobs(
    batch: { digest: string; size: number }[],
    cutoff: number,
    summary: CollectionSummary,
    pacer: Pacer,
  ): Promise<void> {
    let claim = Date.now() + this.claimMs;
    const claimed = await pacer.timed(batch.length, () =>
      this.collection.claimBlobs(
        batch.map((blob) => blob.digest),
        cutoff,
        claim,
      ),
    );
    summary.spared.blobs += batch.length - claimed.length;
    let held = new Set(claimed.map((blob) => blob.digest));
    const removed = new Set<string>();
    let failure: { error: unknown } | undefined;
    /** Before each delete (or deleteAll): renews the claim once half of it is gone; false: no longer held. */
    const stillHeld = async (digest: string): Promise<boolean> => {
      if (Date.now() > claim - this.claimMs / 2) {
        const next = Date.now() + this.claimMs;
        // All of them, deleted ones included: dropClaimed below finds the rows by the latest claim.
        held = await this.collection.renewClaim([...held], claim, next);
        claim = next;
      }
      return held.has(digest);
    };
    if (this.store.deleteAll) {
      for (const chunk of batches(claimed, DELETE_ALL_BATCH)) {
        const keep: string[] = [];
        for (const blob of chunk) if (await stillHeld(blob.digest)) keep.push(blob.digest);
        const keys = new Map(keep.map((digest) => [blobKey(parseDigest(digest)), digest]));
        const failed = await this.store.deleteAll([...keys.keys()]).catch((error: unknown) => {
          failure ??= { error };
          return [...keys.keys()].map((key) => ({ key, error }));
        });
        const notRemoved = new Set(failed.map((f) => f.key));
        for (const [key, digest] of keys) if (!notRemoved.has(key)) removed.add(digest);
        if (failed[0] && !failure) failure = { error: failed[0].error };
        if (failure) break;
      }
    } else {
      const running = new Set<Promise<void>>();
      for (const blob of claimed) {
        while (running.size >= DELETE_CONCURRENCY) await Promise.race(running);
        if (failure) break;
        if (!(await stillHeld(blob.digest))) continue;
        const deleting: Promise<void> = this.store
          .delete(blobKey(parseDigest(blob.digest)))
          .then(
            () => {
              removed.add(blob.digest);
            },
            (error: unknown) => {
              failure ??= { error };
            },
          )
          .finally(() => running.delete(deleting));
        running.add(deleting);
      }
      await Promise.all(running);
    }
    // The rows of the bytes that did go, even when a delete failed (its blob keeps its row, unclaimed).
    const dropped = await pacer.timed(removed.size, () => this.collection.dropClaimed([...removed], claim));
    await this.collection.releaseClaim(
      claimed.filter((blob) => !removed.has(blob.digest)).map((blob) => blob.digest),
      claim,
    );
    summary.blobs += dropped;
    summary.bytes += claimed.filter((blob) => removed.has(blob.digest)).reduce((n, b) => n + b.size, 0);
    if (failure) throw failure.error;
  }

  /** Objects under blobs/ with no row, older than the cutoff: bytes a crash or an operator left behind. */
  private async sweepOrphans(
    context: JobContext,
    cutoff: number,
    dryRun: boolean,
    summary: CollectionSummary,
    pace: Pacing,
  ): Promise<void> {
    let batch: { digest: string; key: string; modified?: Date | undefined }[] = [];
    let seen = 0;
    const flush = async () => {
      stopIfAborted(context);
      // Paced like the mark's reads: back to back, these lookups held the thread (pushes at 1M: p50 59 ms).
      await pace.reads.timed(0, () => this.removeOrphans(batch, cutoff, dryRun, summary));
      batch = [];
      context.progress({ phase: 'orphans', done: seen });
    };
    for await (const { key, modified } of this.blobObjects()) {
      seen++;
      if (modified && modified.getTime() >= cutoff) continue;
      const digest = digestOfKey(key);
      if (digest !== undefined) batch.push({ digest, key, modified });
      if (batch.length >= BATCH * 4) await flush();
    }
    await flush();
  }

  /** Every object under blobs/: one walk when the store has one, else directory by directory. */
  private async *blobObjects(): AsyncIterable<{ key: string; modified?: Date | undefined }> {
    if (this.store.walk) {
      yield* this.store.walk('blobs/');
      return;
    }
    for (const algorithm of ALGORITHMS) {
      for (let i = 0; i < 256; i++) {
        yield* this.store.list(`blobs/${algorithm}/${i.toString(16).padStart(2, '0')}/`);
      }
    }
  }

  /** Of the candidates, deletes those without a row (looked up in one query) that are older than the cutoff. */
  private async removeOrphans(
    candidates: { digest: string; key: string; modified?: Date | undefined }[],
    cutoff: number,
    dryRun: boolean,
    summary: CollectionSummary,
  ): Promise<void> {
    if (candidates.length === 0) return;
    const known = await this.collection.knownBlobs(candidates.map((c) => c.digest));
    for (const orphan of candidates.filter((c) => !known.has(c.digest))) {
      const info = await this.store.stat(orphan.key);
      if (!info || info.modified.getTime() >= cutoff) continue;
      if (!dryRun) {
        // Claimed by a row of its own first, so that a push of the same digest waits (see claimOrphan).
        const claim = Date.now() + this.claimMs;
        if (!(await this.collection.claimOrphan(orphan.digest, info.size, claim))) continue;
        await this.store.delete(orphan.key);
        await this.collection.dropClaimed([orphan.digest], claim);
      }
      summary.orphans.objects++;
      summary.orphans.bytes += info.size;
      summary.bytes += info.size;
    }
  }

  private async purgeUploads(): Promise<number> {
    let removed = 0;
    for (;;) {
      const n = await this.registry.uploads.purgeStale(Date.now(), 1000);
      removed += n;
      if (n < 1000) return removed;
    }
  }
}

/** The collector's pacers of one run: delete and count statements, blob claims and drops, the mark's reads. */
interface Pacing {
  sweeps: Pacer;
  claims: Pacer;
  reads: Pacer;
}

function* batches<T>(items: T[], size = BATCH): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/** The digest a blob key stands for, or undefined for anything else found under blobs/ (left alone). */
function digestOfKey(key: string): string | undefined {
  const [root, algorithm, , hex] = key.split('/');
  if (root !== 'blobs' || algorithm === undefined || hex === undefined) return undefined;
  try {
    const digest = parseDigest(`${algorithm}:${hex}`);
    return blobKey(digest) === key ? digest.value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Waits for a turn of the event loop. On SQLite every statement runs on this thread and resolves at once, so a
 * loop of awaited batches would otherwise hold the thread for a whole phase of a slice (up to seconds), with
 * every request waiting; one batch at a time, requests' callbacks run in between.
 */
function letRequestsIn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function stopIfAborted(context: JobContext): void {
  if (context.signal.aborted) throw new Error('stopped: the server shut down');
}
