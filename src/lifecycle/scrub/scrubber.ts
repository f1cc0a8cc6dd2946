import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, JobRunRow } from '../../metadata/index.js';
import { blobKey, digestOf, parseDigest, parseManifest, RegistryError } from '../../registry/index.js';
import { ByteRate } from '../../replication/index.js';
import type { BlobStore } from '../../storage/index.js';
import type { JobContext, JobRunner } from '../jobs/job-runner.js';
import { dueAt } from '../jobs/schedule.js';
import type { BlobQuarantine } from './quarantine.js';
import { type AffectedRepository, ScrubStore } from './scrub-store.js';

export interface ScrubberOptions {
  /** Cron expression for scheduled runs; empty: manual only. */
  schedule?: string;
  /** Bytes read per second when a run names no rate; 0: as fast as storage answers. */
  rateBytesPerSecond?: number;
  /** Whether scheduled runs quarantine what they find corrupt. */
  quarantine?: boolean;
}

export interface ScrubRequest {
  /** Quarantine corrupt blobs: they are never served again (BlobQuarantine). */
  quarantine: boolean;
  /** Overrides the configured rate; 0: unthrottled. */
  rateBytesPerSecond?: number | undefined;
  trigger?: 'manual' | 'schedule';
  requestedBy?: string | undefined;
  dueAt?: number | undefined;
}

/** A blob whose bytes are wrong or gone, and what it breaks. */
export interface BlobFinding {
  digest: string;
  problem: 'corrupt' | 'missing';
  /** e.g. `stored bytes hash to sha256:…`, `stored size 1000, expected 1001`. */
  detail: string;
  size: number;
  affected: AffectedRepository[];
  quarantined: boolean;
}

/** A manifest that does not parse, whose bytes do not match its digest, or that references what is absent. */
export interface ManifestFinding {
  repository: string;
  digest: string;
  problem: string;
}

/** A run's state: its progress while it runs, and its summary (plus durationMs) once done. */
export interface ScrubState {
  phase: 'blobs' | 'manifests' | 'done';
  quarantine: boolean;
  rateBytesPerSecond: number;
  /** The last blob checked (digest order): a resumed run starts after it. */
  blobCursor: string;
  /** The last manifest checked (repository id, digest order). */
  manifestCursor: { repositoryId: number; digest: string };
  blobs: { checked: number; total: number; bytes: number };
  manifests: { checked: number; total: number };
  corrupt: BlobFinding[];
  missing: BlobFinding[];
  badManifests: ManifestFinding[];
  /** Findings beyond the lists' cap, counted only. */
  unlisted: number;
  /** The interrupted run this one carried on from, and how many blobs and manifests that one had checked. */
  resumedFrom?: number;
  resumedAt?: { blobs: number; manifests: number };
  /** The current phase's position, for progress bars. */
  done: number;
  total: number;
}

export interface ScrubSummary extends ScrubState {
  durationMs: number;
}

/** Checked per page of metadata (one query). */
const PAGE = 256;
/** Findings listed per kind; more are counted in `unlisted`. */
const MAX_LISTED = 1000;

/**
 * The integrity scrub: re-hashes every stored blob (streamed, at most `rateBytesPerSecond`), checks that every
 * manifest's bytes match its digest, parse, and reference blobs and manifests the repository holds, and
 * reports what is corrupt or missing with the repositories and tags it breaks; optionally quarantines corrupt
 * blobs. A run is a job (one at a time across nodes); its progress holds a cursor, and a run started after one
 * that was interrupted (server stopped or killed) carries on from that cursor with its findings.
 */
export class Scrubber {
  private readonly scrubs: ScrubStore;
  private readonly startedAt = Date.now();

  constructor(
    private readonly store: BlobStore,
    db: Kysely<Database>,
    private readonly runner: JobRunner,
    private readonly quarantined: BlobQuarantine,
    readonly options: ScrubberOptions = {},
  ) {
    this.scrubs = new ScrubStore(db);
  }

  /** Starts a run in the background; CONFLICT when one is running (on any node). */
  start(request: ScrubRequest): Promise<JobRunRow> {
    const rate = request.rateBytesPerSecond ?? this.options.rateBytesPerSecond ?? 0;
    if (!(Number.isSafeInteger(rate) && rate >= 0)) {
      throw new RegistryError('INVALID_REQUEST', {
        message: 'the rate is a whole number of bytes per second',
      });
    }
    return this.runner.start(
      {
        kind: 'scrub',
        scope: '',
        trigger: request.trigger ?? 'manual',
        dryRun: false,
        requestedBy: request.requestedBy,
        dueAt: request.dueAt,
      },
      (context) => this.scrub(context, request.quarantine, rate),
    );
  }

  runs(options: { limit: number; before?: number }): Promise<JobRunRow[]> {
    return this.runner.runs.list('scrub', options);
  }

  run(id: number): Promise<JobRunRow | undefined> {
    return this.runner.runs.get(id).then((run) => (run?.kind === 'scrub' ? run : undefined));
  }

  wait(id: number): Promise<JobRunRow | undefined> {
    return this.runner.wait(id);
  }

  quarantine(): BlobQuarantine {
    return this.quarantined;
  }

  /** Starts a scheduled run when the schedule says one is due (called by the scheduler on every node). */
  async runDue(now = Date.now()): Promise<JobRunRow | undefined> {
    const schedule = this.options.schedule;
    if (!schedule) return undefined;
    const last = await this.runner.runs.lastStarted('scrub', '', 'schedule');
    const due = dueAt(schedule, last, this.startedAt, now);
    if (due === undefined) return undefined;
    return this.start({
      quarantine: this.options.quarantine === true,
      trigger: 'schedule',
      dueAt: due,
    }).catch((error) => {
      if (error instanceof RegistryError && error.code === 'CONFLICT') return undefined;
      throw error;
    });
  }

  async scrub(context: JobContext, quarantine: boolean, rateBytesPerSecond: number): Promise<ScrubSummary> {
    const began = Date.now();
    const state = (await this.resumable(context.run.id)) ?? {
      phase: 'blobs',
      quarantine,
      rateBytesPerSecond,
      blobCursor: '',
      manifestCursor: { repositoryId: -1, digest: '' },
      blobs: { checked: 0, total: 0, bytes: 0 },
      manifests: { checked: 0, total: 0 },
      corrupt: [],
      missing: [],
      badManifests: [],
      unlisted: 0,
      done: 0,
      total: 0,
    };
    state.quarantine = quarantine;
    state.rateBytesPerSecond = rateBytesPerSecond;
    const rate = rateBytesPerSecond > 0 ? new ByteRate(rateBytesPerSecond) : undefined;
    if (state.phase === 'blobs') {
      state.blobs.total = await this.scrubs.countBlobs();
      await this.checkBlobs(context, state, rate);
      state.phase = 'manifests';
    }
    if (state.phase === 'manifests') {
      state.manifests.total = await this.scrubs.countManifests();
      await this.checkManifests(context, state);
      state.phase = 'done';
    }
    return { ...state, durationMs: Date.now() - began };
  }

  /** The state of the run before this one, when it was cut short (server stopped or killed) mid-way. */
  private async resumable(id: number): Promise<ScrubState | undefined> {
    const [previous] = await this.runner.runs.list('scrub', { limit: 1, before: id });
    if (!previous) return undefined;
    const cutShort =
      previous.status === 'interrupted' ||
      (previous.status === 'failed' && previous.error?.startsWith('stopped: the server shut down'));
    if (!cutShort) return undefined;
    const saved = (previous.status === 'failed' ? previous.summary : previous.progress) as ScrubState | null;
    if (!saved || (saved.phase !== 'blobs' && saved.phase !== 'manifests')) return undefined;
    return {
      ...saved,
      resumedFrom: previous.id,
      resumedAt: { blobs: saved.blobs.checked, manifests: saved.manifests.checked },
    };
  }

  private async checkBlobs(
    context: JobContext,
    state: ScrubState,
    rate: ByteRate | undefined,
  ): Promise<void> {
    for (;;) {
      const page = await this.scrubs.blobsAfter(state.blobCursor, PAGE);
      if (page.length === 0) return;
      for (const blob of page) {
        stopIfAborted(context);
        const problem = await this.checkBlob(blob.digest, blob.size, rate, context.signal);
        if (problem && (await this.scrubs.blobStillLive(blob.digest))) {
          await this.record(context, state, blob, problem);
        }
        state.blobCursor = blob.digest;
        state.blobs.checked++;
        state.blobs.bytes += blob.size;
        state.done = state.blobs.checked;
        state.total = state.blobs.total;
        context.progress(state);
      }
    }
  }

  /** What is wrong with the stored bytes of a blob, or undefined when they hash to its digest. */
  private async checkBlob(
    digest: string,
    size: number,
    rate: ByteRate | undefined,
    signal: AbortSignal,
  ): Promise<Pick<BlobFinding, 'problem' | 'detail'> | undefined> {
    const parsed = parseDigest(digest);
    const key = blobKey(parsed);
    const info = await this.store.stat(key);
    if (!info) return { problem: 'missing', detail: `no stored object at ${key}` };
    if (info.size !== size) {
      return { problem: 'corrupt', detail: `stored size ${info.size} bytes, expected ${size}` };
    }
    const hash = createHash(parsed.algorithm);
    let stream: AsyncIterable<Buffer>;
    try {
      stream = await this.store.read(key);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return { problem: 'missing', detail: `no stored object at ${key}` };
      }
      throw error;
    }
    // One chunk at a time: memory stays at the stream's buffer whatever the blob's size.
    for await (const chunk of stream) {
      hash.update(chunk);
      if (rate) await rate.take(chunk.length, signal);
    }
    const actual = `${parsed.algorithm}:${hash.digest('hex')}`;
    return actual === digest ? undefined : { problem: 'corrupt', detail: `stored bytes hash to ${actual}` };
  }

  private async record(
    context: JobContext,
    state: ScrubState,
    blob: { digest: string; size: number },
    problem: Pick<BlobFinding, 'problem' | 'detail'>,
  ): Promise<void> {
    const quarantine = problem.problem === 'corrupt' && state.quarantine;
    if (quarantine) await this.quarantined.add(blob.digest, context.run.id, problem.detail);
    const list = problem.problem === 'corrupt' ? state.corrupt : state.missing;
    if (list.length >= MAX_LISTED) {
      state.unlisted++;
      return;
    }
    list.push({
      digest: blob.digest,
      ...problem,
      size: blob.size,
      affected: await this.scrubs.affected(blob.digest),
      quarantined: quarantine,
    });
  }

  private async checkManifests(context: JobContext, state: ScrubState): Promise<void> {
    for (;;) {
      const page = await this.scrubs.manifestsAfter(state.manifestCursor, PAGE);
      if (page.length === 0) return;
      for (const manifest of page) {
        stopIfAborted(context);
        const problem = await this.checkManifest(manifest);
        if (problem) {
          if (state.badManifests.length < MAX_LISTED) {
            state.badManifests.push({ repository: manifest.repository, digest: manifest.digest, problem });
          } else state.unlisted++;
        }
        state.manifestCursor = { repositoryId: manifest.repositoryId, digest: manifest.digest };
        state.manifests.checked++;
        state.done = state.manifests.checked;
        state.total = state.manifests.total;
        context.progress(state);
      }
    }
  }

  private async checkManifest(manifest: {
    repositoryId: number;
    digest: string;
    mediaType: string;
    content: Buffer;
  }): Promise<string | undefined> {
    const actual = digestOf(manifest.content, parseDigest(manifest.digest).algorithm);
    if (actual !== manifest.digest) return `stored bytes hash to ${actual}`;
    let parsed: ReturnType<typeof parseManifest>;
    try {
      parsed = parseManifest(manifest.content, manifest.mediaType);
    } catch (error) {
      return `does not parse: ${(error as Error).message}`;
    }
    const blobs = parsed.blobs.map((d) => d.digest);
    const children = parsed.manifests.map((d) => d.digest);
    const linked = await this.scrubs.linkedBlobs(manifest.repositoryId, blobs);
    const present = await this.scrubs.presentManifests(manifest.repositoryId, children);
    const absent = [
      ...blobs.filter((d) => !linked.has(d)).map((d) => `blob ${d}`),
      ...children.filter((d) => !present.has(d)).map((d) => `manifest ${d}`),
    ];
    return absent.length === 0
      ? undefined
      : `references what the repository does not hold: ${absent.join(', ')}`;
  }
}

function stopIfAborted(context: JobContext): void {
  if (context.signal.aborted) throw new Error('stopped: the server shut down');
}
