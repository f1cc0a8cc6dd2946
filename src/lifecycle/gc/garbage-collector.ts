import type { CollectionGraph, CollectionStore, JobRunRow, RepositoryItem } from '../../metadata/index.js';
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

/** Work is done in batches of this many items (one transaction on SQLite, one claim statement for blobs). */
const BATCH = 256;
/** Storage deletes in flight at once. */
const DELETE_CONCURRENCY = 16;
const ALGORITHMS = ['sha256', 'sha512'];

/**
 * Online garbage collection: mark from the metadata (planCollection), then sweep with a re-check at every
 * delete (CollectionStore), while pushes and pulls go on. Nothing is read-only at any point: a manifest
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

  /** The whole run: mark, then sweep manifests, links, blobs, orphaned objects and expired uploads. */
  async collect(context: JobContext, dryRun: boolean): Promise<CollectionSummary> {
    const began = Date.now();
    const cutoff = began - this.options.graceMs;
    const phases: Record<string, number> = {};
    let phaseStart = began;
    const timed = async (phase: string, work: () => Promise<unknown>) => {
      context.progress({ phase });
      await work();
      phases[phase] = Date.now() - phaseStart;
      phaseStart = Date.now();
    };
    let graph: CollectionGraph | undefined;
    let plan: CollectionPlan | undefined;
    await timed('mark', async () => {
      graph = await this.collection.graph();
      plan = planCollection(graph, { cutoff, untagged: this.options.untagged !== false });
    });
    if (!graph || !plan) throw new Error('the mark phase produced no plan');
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
    if (dryRun) {
      summary.manifests = plan.manifestRounds.reduce((n, round) => n + round.length, 0);
      summary.links = plan.links.length;
      summary.blobs = plan.blobs.length;
      summary.bytes = plan.blobs.reduce((n, blob) => n + blob.size, 0);
    } else {
      const { repositories } = graph;
      const marked = plan;
      await timed('manifests', () => this.sweepManifests(context, marked, cutoff, repositories, summary));
      await timed('links', () => this.sweepLinks(context, marked.links, cutoff, repositories, summary));
      await timed('blobs', () => this.sweepBlobs(context, marked.blobs, cutoff, summary));
    }
    // The plan can be large: let it go before walking storage.
    graph = undefined;
    plan = undefined;
    await timed('orphans', () => this.sweepOrphans(context, cutoff, dryRun, summary));
    await timed('uploads', async () => {
      summary.uploads = dryRun ? await this.registry.uploads.countStale() : await this.purgeUploads();
    });
    summary.durationMs = Date.now() - began;
    return summary;
  }

  private async sweepManifests(
    context: JobContext,
    plan: CollectionPlan,
    cutoff: number,
    repositories: Map<number, string>,
    summary: CollectionSummary,
  ): Promise<void> {
    const total = plan.manifestRounds.reduce((n, round) => n + round.length, 0);
    let done = 0;
    for (const round of plan.manifestRounds) {
      for (const batch of batches(round)) {
        stopIfAborted(context);
        const deleted = await this.collection.deleteManifests(batch, cutoff);
        for (const item of deleted) {
          const repository = repositories.get(item.repositoryId);
          if (repository !== undefined) {
            await this.registry.manifests.changed({
              kind: 'manifest-deleted',
              repository,
              digest: item.digest,
            });
          }
        }
        summary.manifests += deleted.length;
        summary.spared.manifests += batch.length - deleted.length;
        done += batch.length;
        context.progress({ phase: 'manifests', done, total });
      }
    }
  }

  private async sweepLinks(
    context: JobContext,
    links: RepositoryItem[],
    cutoff: number,
    repositories: Map<number, string>,
    summary: CollectionSummary,
  ): Promise<void> {
    let done = 0;
    for (const batch of batches(links)) {
      stopIfAborted(context);
      const deleted = await this.collection.deleteLinks(batch, cutoff, repositories);
      summary.links += deleted.length;
      summary.spared.links += batch.length - deleted.length;
      done += batch.length;
      context.progress({ phase: 'links', done, total: links.length });
    }
  }

  private async sweepBlobs(
    context: JobContext,
    blobs: { digest: string; size: number }[],
    cutoff: number,
    summary: CollectionSummary,
  ): Promise<void> {
    let done = 0;
    for (const batch of batches(blobs)) {
      stopIfAborted(context);
      let claim = Date.now() + this.claimMs;
      const claimed = await this.collection.claimBlobs(
        batch.map((blob) => blob.digest),
        cutoff,
        claim,
      );
      summary.spared.blobs += batch.length - claimed.length;
      let held = new Set(claimed.map((blob) => blob.digest));
      const removed: string[] = [];
      for (const chunk of batches(claimed, DELETE_CONCURRENCY)) {
        // Never delete under a claim that may lapse meanwhile: renew it once half of it is gone.
        if (Date.now() > claim - this.claimMs / 2) {
          const next = Date.now() + this.claimMs;
          // All of them, deleted ones included: dropClaimed below finds the rows by the latest claim.
          held = await this.collection.renewClaim([...held], claim, next);
          claim = next;
        }
        const mine = chunk.filter((blob) => held.has(blob.digest));
        await Promise.all(mine.map((blob) => this.store.delete(blobKey(parseDigest(blob.digest)))));
        removed.push(...mine.map((blob) => blob.digest));
      }
      const dropped = await this.collection.dropClaimed(removed, claim);
      summary.blobs += dropped;
      summary.bytes += claimed
        .filter((blob) => removed.includes(blob.digest))
        .reduce((n, b) => n + b.size, 0);
      done += batch.length;
      context.progress({ phase: 'blobs', done, total: blobs.length });
    }
  }

  /** Objects under blobs/ with no row, older than the cutoff: bytes a crash or an operator left behind. */
  private async sweepOrphans(
    context: JobContext,
    cutoff: number,
    dryRun: boolean,
    summary: CollectionSummary,
  ): Promise<void> {
    let batch: { digest: string; key: string; modified?: Date | undefined }[] = [];
    let seen = 0;
    const flush = async () => {
      stopIfAborted(context);
      await this.removeOrphans(batch, cutoff, dryRun, summary);
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

function stopIfAborted(context: JobContext): void {
  if (context.signal.aborted) throw new Error('stopped: the server shut down');
}
